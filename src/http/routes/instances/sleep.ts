import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { Instance } from '../../../core/instance-types.js'
import type { Services } from '../../../core/services.js'
import { callerOf } from '../../plugins/auth.js'
import { errorResponses, InstanceParams } from '../../schemas.js'

/** Explicit sleep and wake; idle instances also sleep by themselves after their plan's idle_sleep_minutes. */
export const instanceSleepRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (
  app,
  { services },
) => {
  app.post(
    '/api/instances/:id/sleep',
    {
      schema: {
        operationId: 'instances.sleep',
        summary: 'Put a ready instance to sleep now: its gateway and desktop stop, its workspace stays',
        description:
          'Answers once they have stopped, with status "sleeping" (a sleeping instance answers at once). ' +
          'Exec and files keep working without waking it; chat, the terminal, the desktop and inbox messages wake it. ' +
          'A turn running on it ends. 409 unless the instance is ready or sleeping.',
        tags: ['instances'],
        params: InstanceParams,
        response: { 200: Instance, ...errorResponses('instance_not_found', 'invalid_state') },
      },
    },
    async (request) => services.sleep.sleep(callerOf(request), request.params.id),
  )

  app.post(
    '/api/instances/:id/wake',
    {
      schema: {
        operationId: 'instances.wake',
        summary: 'Wake a sleeping instance',
        description:
          'Answers at once with status "waking" (or "ready" if it was awake); poll GET /api/instances/{id} until "ready". ' +
          'A chat turn sent meanwhile waits for the wake. 409 unless the instance is sleeping, waking or ready.',
        tags: ['instances'],
        params: InstanceParams,
        response: { 202: Instance, ...errorResponses('instance_not_found', 'invalid_state') },
      },
    },
    async (request, reply) =>
      reply.status(202).send(await services.sleep.wake(callerOf(request), request.params.id)),
  )
}
