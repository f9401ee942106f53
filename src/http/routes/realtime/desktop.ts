import '@fastify/websocket'
import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Services } from '../../../core/services.js'
import type { Relay } from '../../../core/socket-relay.js'
import { type ErrorCode, errors } from '../../../errors.js'
import { callerOf } from '../../plugins/auth.js'
import { errorResponses, InstanceParams } from '../../schemas.js'
import { attachWatched } from './attach.js'
import { SwitchingProtocols, TicketQuery } from './terminal.js'

const relays = new WeakMap<FastifyRequest, Relay>()

/** What a desktop call can answer: the instance or its desktop missing, off or out of reach. */
const DESKTOP_ERRORS = [
  'instance_not_found',
  'instance_not_ready',
  'instance_waking',
  'desktop_off',
  'desktop_unavailable',
  'instance_unavailable',
  'runner_unavailable',
] as const satisfies readonly ErrorCode[]

/** The instance's desktop: the RFB stream for VNC viewers, and screenshots. */
export const desktopRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { desktop } = services

  app.route({
    method: 'GET',
    url: '/api/instances/:id/vnc/ws',
    config: { socket: true },
    schema: {
      operationId: 'desktop.vnc',
      summary: "Stream the instance's desktop (RFB) over a WebSocket, for noVNC",
      description:
        'Binary frames carry the RFB (VNC) protocol both ways, security type None (the WebSocket itself is authenticated). An instance that stops closes the socket with code 4001, a revoked key or ended sign-in with 4003.',
      tags: ['desktop'],
      params: InstanceParams,
      querystring: TicketQuery,
      response: {
        101: SwitchingProtocols,
        ...errorResponses(...DESKTOP_ERRORS, 'invalid_ticket', 'upgrade_required'),
      },
    },
    preHandler: async (req) => {
      if (!req.ws) throw errors.upgradeRequired()
      relays.set(req, await desktop.open(callerOf(req), req.params.id))
    },
    wsHandler: (socket, req) => attachWatched(relays.get(req), socket, req, services.keys.watch),
    handler: async () => {
      throw errors.upgradeRequired()
    },
  })

  app.get(
    '/api/instances/:id/desktop/screenshot',
    {
      schema: {
        operationId: 'desktop.screenshot',
        summary: "A PNG of the instance's whole screen",
        tags: ['desktop'],
        params: InstanceParams,
        response: {
          200: z.string().meta({ format: 'binary' }).describe('image/png'),
          ...errorResponses(...DESKTOP_ERRORS),
        },
      },
    },
    async (req, reply) => {
      const png = await desktop.screenshot(callerOf(req), req.params.id)
      reply.header('content-type', 'image/png').header('cache-control', 'no-store')
      // A Buffer bypasses the serializer; the schema above only documents the bytes.
      return reply.send(png as unknown as string)
    },
  )
}
