import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Services } from '../../core/services.js'
import { PoolStatus } from '../../core/warm-pool.js'
import { errors } from '../../errors.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses } from '../schemas.js'

/** Operator views; administrators only. */
export const adminRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/api/admin/pool',
    {
      schema: {
        operationId: 'admin.pool',
        summary: "The warm pool: each plan's size, and how many instances are ready or warming",
        tags: ['admin'],
        response: { 200: PoolStatus, ...errorResponses('admin_required') },
      },
    },
    async (request) => {
      if (!callerOf(request).user.is_admin) throw errors.adminOnly()
      return services.pool.status()
    },
  )
}
