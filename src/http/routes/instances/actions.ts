import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { Instance, InstanceStatusDetail } from '../../../core/instance-types.js'
import type { InstanceService } from '../../../core/instances.js'
import type { Actor } from '../../../core/scope.js'
import type { Services } from '../../../core/services.js'
import { callerOf } from '../../plugins/auth.js'
import { errorResponses, InstanceParams } from '../../schemas.js'

const ACTIONS: Array<{
  name: 'reboot' | 'shutdown' | 'start'
  summary: string
  run: (s: InstanceService, actor: Actor, id: string) => Promise<unknown>
}> = [
  {
    name: 'reboot',
    summary: 'Restart the instance; the workspace is kept',
    run: (s, u, i) => s.reboot(u, i),
  },
  {
    name: 'shutdown',
    summary: 'Stop the instance; the workspace is kept',
    run: (s, u, i) => s.shutdown(u, i),
  },
  { name: 'start', summary: 'Start a stopped instance', run: (s, u, i) => s.start(u, i) },
]

/** Lifecycle actions (202: they finish in the background) and the status detail. */
export const instanceActionRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (
  app,
  { services },
) => {
  for (const action of ACTIONS) {
    app.post(
      `/api/instances/:id/${action.name}`,
      {
        schema: {
          operationId: `instances.${action.name}`,
          summary: action.summary,
          tags: ['instances'],
          params: InstanceParams,
          response: {
            202: Instance,
            ...errorResponses('instance_not_found', 'invalid_state', 'instance_not_ready'),
          },
        },
      },
      async (request, reply) => {
        const instance = await action.run(services.instances, callerOf(request), request.params.id)
        return reply.status(202).send(instance as Instance)
      },
    )
  }

  app.get(
    '/api/instances/:id/status',
    {
      schema: {
        operationId: 'instances.status',
        summary: 'Readiness of the sandbox, the clawlet, the gateway and the desktop, with uptime',
        tags: ['instances'],
        params: InstanceParams,
        response: { 200: InstanceStatusDetail, ...errorResponses('instance_not_found') },
      },
    },
    async (request) => services.instances.status(callerOf(request), request.params.id),
  )
}
