import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ServerMetrics } from '../../core/prometheus.js'
import type { Services } from '../../core/services.js'
import { errors } from '../../errors.js'
import { sha256 } from '../../lib/hash.js'
import { bearerOf } from '../plugins/auth.js'
import { toAppError } from '../plugins/errors.js'

function sameSecret(a: string, b: string): boolean {
  // Hashes first: equal lengths, so the comparison time says nothing about the token's length.
  return timingSafeEqual(sha256(a), sha256(b))
}

/** GET /metrics is an operator's: the metrics token, or an administrator's own key. */
async function checkScraper(request: FastifyRequest, services: Services): Promise<void> {
  // An instance's door acts for its owner, narrowly: never for the operator.
  if (request.caller?.instanceId) throw errors.adminOnly()
  const secret = bearerOf(request)
  if (!secret)
    throw errors.unauthorized(
      'Send "Authorization: Bearer <token>" with CLAWPORT_METRICS_TOKEN or an administrator\'s key.',
    )
  const token = services.config.http.metricsToken
  if (token && sameSecret(secret, token)) return
  const caller = await services.keys.authenticate(secret)
  if (!caller.user.is_admin) throw errors.adminOnly()
}

/**
 * Prometheus metrics: the latency of every request (by route pattern, so label values stay
 * few) and error answers by code, counted at the root so every route is seen, and `GET /metrics`.
 */
export function registerMetrics(app: FastifyInstance, services: Services): ServerMetrics {
  const metrics = new ServerMetrics(services)
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    )
  })
  app.addHook('onError', async (_request, _reply, err) => {
    const e = toAppError(err)
    metrics.httpErrors.inc({ code: e.code, status: String(e.status) })
  })
  app.get(
    '/metrics',
    {
      config: { public: true },
      schema: {
        operationId: 'server.metrics',
        summary: 'Prometheus metrics of the server and its instances',
        description:
          'Text exposition format. Needs CLAWPORT_METRICS_TOKEN or an administrator\'s API key as "Authorization: Bearer ...".',
        tags: ['admin'],
      },
    },
    async (request, reply) => {
      await checkScraper(request, services)
      const text = await metrics.render()
      return reply.type(metrics.registry.contentType).send(text)
    },
  )
  return metrics
}
