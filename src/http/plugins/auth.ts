import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Caller, KeyService } from '../../core/keys.js'
import { errors } from '../../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller
  }
  interface FastifyContextConfig {
    /** A route anyone may call without a key. */
    public?: boolean
  }
}

/** Reads the bearer key of a request, if it has one. */
export function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (!header) return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (!m) throw errors.unauthorized('The Authorization header must be "Bearer <key>".')
  return m[1]
}

/** Authenticates every non-public route before anything else runs. */
export function registerAuth(app: FastifyInstance, keys: KeyService): void {
  app.decorateRequest('caller', undefined)
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config?.public || !request.routeOptions.url) return
    const secret = bearerOf(request)
    if (!secret) throw errors.unauthorized()
    request.caller = await keys.authenticate(secret)
  })
}

/** The authenticated caller of a private route. */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw errors.unauthorized()
  return request.caller
}
