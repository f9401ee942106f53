import type { FastifyInstance } from 'fastify'
import type { IdleTracker } from '../../core/sleep/idle-tracker.js'

/** Calls on an instance that count as its use: every route under it but its status reads. */
const INSTANCE_ROUTE = /^\/api\/instances\/:id\/(?!status$)/

/**
 * API calls on an instance keep it from going to sleep. Counted when answered, and only when
 * answered with success: a stranger naming someone's instance (a 404) never keeps it awake.
 */
export function registerIdleActivity(app: FastifyInstance, tracker: IdleTracker): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url
    const id = (request.params as Record<string, unknown> | undefined)?.id
    if (!route || typeof id !== 'string' || reply.statusCode >= 400 || !INSTANCE_ROUTE.test(route)) return
    tracker.touch(id)
  })
}
