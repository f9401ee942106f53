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
    /** A WebSocket route: without a bearer key, the socket credentials below are tried. */
    socket?: boolean
  }
}

/**
 * Another way a WebSocket route may establish its caller when the client cannot send an
 * Authorization header (browsers): a `?ticket=`, and later the dashboard's session cookie.
 * Answers undefined when the request does not carry this credential, throws when it is bad.
 */
export type SocketCredential = (request: FastifyRequest) => Promise<Caller | undefined>

/** Reads the bearer key of a request, if it has one. */
export function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (!header) return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (!m) throw errors.unauthorized('The Authorization header must be "Bearer <key>".')
  return m[1]
}

/** Authenticates every non-public route before anything else runs. */
export function registerAuth(
  app: FastifyInstance,
  keys: KeyService,
  socketCredentials: SocketCredential[] = [],
  sessionCookie?: SocketCredential,
): void {
  app.decorateRequest('caller', undefined)
  app.addHook('onRequest', async (request) => {
    // Established already by an instance's door (see instance-door.ts).
    if (request.caller) return
    if (request.routeOptions.config?.public || !request.routeOptions.url) return
    const secret = bearerOf(request)
    if (secret) {
      request.caller = await keys.authenticate(secret)
      return
    }
    // The dashboard's sign-in; it checks CSRF and same-site itself.
    request.caller = await sessionCookie?.(request)
    if (request.caller) return
    if (request.routeOptions.config?.socket) {
      for (const credential of socketCredentials) {
        request.caller = await credential(request)
        if (request.caller) return
      }
      throw errors.unauthorized(
        'Missing credentials. Send "Authorization: Bearer <key>", or ?ticket= from POST /api/instances/{id}/ws-ticket.',
      )
    }
    throw errors.unauthorized()
  })
}

/** The authenticated caller of a private route. */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw errors.unauthorized()
  return request.caller
}
