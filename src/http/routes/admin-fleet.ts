import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { Fleet } from '../../core/fleet.js'
import type { Services } from '../../core/services.js'
import { errors } from '../../errors.js'
import type { Logger } from '../../log.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses } from '../schemas.js'

const Outcome = z.object({
  id: z.string(),
  user_id: z.string(),
  from: z.string().describe('Its status before'),
  status: z.string().describe('Its status after'),
  error: z.string().optional().describe('Why it did not reach the wanted status'),
})
const FleetAnswer = z.object({
  instances: z.array(Outcome),
  done: z.number().int().describe('How many reached the wanted status'),
  failed: z.number().int(),
})

/** The operator stops or starts every instance of every user; administrators only. */
export const adminFleetRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const fleet = Fleet.of(services, app.log as Logger)
  const answer = (instances: z.infer<typeof Outcome>[]) => {
    const failed = instances.filter((i) => i.error).length
    return { instances, done: instances.length - failed, failed }
  }
  app.post(
    '/api/admin/instances/stop-all',
    {
      schema: {
        operationId: 'admin.instances.stopAll',
        summary: "Stop every user's instances (and the warm pool's); answers once they settled",
        tags: ['admin'],
        response: { 200: FleetAnswer, ...errorResponses('admin_required') },
      },
    },
    async (request) => {
      if (!callerOf(request).user.is_admin) throw errors.adminOnly()
      return answer(await fleet.stopAll())
    },
  )
  app.post(
    '/api/admin/instances/start-all',
    {
      schema: {
        operationId: 'admin.instances.startAll',
        summary: "Start every user's stopped or failed instance; answers once they settled",
        tags: ['admin'],
        response: { 200: FleetAnswer, ...errorResponses('admin_required') },
      },
    },
    async (request) => {
      if (!callerOf(request).user.is_admin) throw errors.adminOnly()
      return answer(await fleet.startAll())
    },
  )
}
