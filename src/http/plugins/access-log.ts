import type { FastifyInstance, FastifyRequest } from 'fastify'

/** The instance a request is about: its path's `:id` on instance routes, or the door it came through. */
export function instanceOfRequest(request: FastifyRequest): string | undefined {
  const route = request.routeOptions.url
  const params = request.params as Record<string, unknown> | undefined
  if (route?.startsWith('/api/instances/:id') && typeof params?.id === 'string') return params.id
  return request.caller?.instanceId
}

/**
 * One info line per answered request: method, the route's pattern (never the URL, whose query
 * may carry a ticket or token), status, time, and who asked (a key or sign-in id, never its secret).
 */
export function registerAccessLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const keyId = request.caller?.keyId
    const instanceId = instanceOfRequest(request)
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ...(keyId?.startsWith('web_') ? { sessionId: keyId.slice(4) } : keyId ? { keyId } : {}),
        ...(instanceId ? { instanceId } : {}),
      },
      'request',
    )
  })
}
