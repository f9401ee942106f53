import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Services } from '../../core/services.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses, InstanceParams } from '../schemas.js'

/** Where the chat event log of an instance ends now: a page loads history, then follows from here. */
export const chatCursorRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/api/instances/:id/chat/cursor',
    {
      schema: {
        operationId: 'chat.cursor',
        summary: 'The latest chat event cursor of an instance',
        description:
          'Load messages with tail=true, then follow GET .../chat/events?after=<cursor> to see what comes next.',
        tags: ['chat'],
        params: InstanceParams,
        response: { 200: z.object({ cursor: z.number().int() }), ...errorResponses('instance_not_found') },
      },
    },
    async (request) => {
      return { cursor: await services.chat.cursor(callerOf(request), request.params.id) }
    },
  )
}
