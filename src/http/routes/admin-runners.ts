import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Services } from '../../core/services.js'
import { errors } from '../../errors.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses } from '../schemas.js'

const Usage = z.object({ memory_mb: z.number().int(), instances: z.number().int() })
const Runner = z
  .object({
    id: z.string(),
    name: z.string(),
    address: z.string().describe("Its endpoint, reached by replicas with the runners' shared credential"),
    state: z.enum(['active', 'draining']).describe('`draining`: keeps its instances, takes no new ones'),
    health: z
      .enum(['healthy', 'unresponsive'])
      .describe('`unresponsive`: no heartbeat for 15 s; takes no new instances'),
    heartbeat_at: z.string(),
    registered_at: z.string(),
    version: z.string(),
    labels: z.record(z.string(), z.string()),
    capacity: Usage.describe('What it offers instances'),
    used: Usage.describe("What its instances' plans reserve"),
  })
  .meta({ id: 'Runner' })
const Overview = z.object({
  local: z.object({
    enabled: z
      .boolean()
      .describe('Whether this server takes new instances itself (CLAWPORT_LOCAL_INSTANCES)'),
    used: Usage,
  }),
  runners: z.array(Runner),
})
const Params = z.object({ runner: z.string().min(1).max(200).describe('Its id or name') })

/** The hosts running instances: health, capacity, load; drain, undrain, remove. Administrators only. */
export const adminRunnerRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { runners } = services
  const adminOnly = async (request: Parameters<typeof callerOf>[0]) => {
    if (!callerOf(request).user.is_admin) throw errors.adminOnly()
  }
  app.get(
    '/api/admin/runners',
    {
      preHandler: adminOnly,
      schema: {
        operationId: 'admin.runners.list',
        summary: "The runners with their health, capacity and load, and this server's own",
        tags: ['admin'],
        response: { 200: Overview, ...errorResponses('admin_required') },
      },
    },
    async () => runners.overview(),
  )
  for (const [action, state] of [
    ['drain', 'draining'],
    ['undrain', 'active'],
  ] as const) {
    app.post(
      `/api/admin/runners/:runner/${action}`,
      {
        preHandler: adminOnly,
        schema: {
          operationId: `admin.runners.${action}`,
          summary:
            action === 'drain'
              ? 'Drain a runner: it keeps its instances and takes no new ones'
              : 'Undrain a runner: it takes new instances again',
          tags: ['admin'],
          params: Params,
          response: { 200: Runner, ...errorResponses('admin_required', 'not_found') },
        },
      },
      async (request) => runners.setState(request.params.runner, state),
    )
  }
  app.delete(
    '/api/admin/runners/:runner',
    {
      preHandler: adminOnly,
      schema: {
        operationId: 'admin.runners.remove',
        summary: 'Forget a runner that holds no instance (409 while it holds some)',
        tags: ['admin'],
        params: Params,
        response: { 204: z.null(), ...errorResponses('admin_required', 'not_found', 'runner_has_instances') },
      },
    },
    async (request, reply) => {
      await runners.remove(request.params.runner)
      return reply.code(204).send(null)
    },
  )
}
