import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Services } from '../../../core/services.js'
import { WsTicket } from '../../../core/ws-tickets.js'
import { callerOf } from '../../plugins/auth.js'
import { errorResponses, InstanceParams } from '../../schemas.js'

/** Tickets that authenticate one WebSocket where no Authorization header can be sent. */
export const ticketRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.post(
    '/api/instances/:id/ws-ticket',
    {
      schema: {
        operationId: 'instances.wsTicket',
        summary: 'Get a single-use ticket for one WebSocket of this instance',
        description:
          'Pass it as ?ticket= to /terminal/ws or /vnc/ws of the same instance within 60 s. It works once; the socket then stays open as long as it lives.',
        tags: ['terminal', 'desktop'],
        params: InstanceParams,
        response: { 200: WsTicket, ...errorResponses('instance_not_found') },
      },
    },
    async (req) => services.wsTickets.issue(callerOf(req), req.params.id),
  )
}
