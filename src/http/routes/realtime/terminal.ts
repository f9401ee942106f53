import '@fastify/websocket'
import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Services } from '../../../core/services.js'
import type { Relay } from '../../../core/socket-relay.js'
import { TerminalQuery } from '../../../core/terminal.js'
import { type ErrorCode, errors } from '../../../errors.js'
import { TerminalSessionInfo } from '../../../wire/clawlet.js'
import { callerOf } from '../../plugins/auth.js'
import { errorResponses, InstanceParams } from '../../schemas.js'
import { attachWatched } from './attach.js'

/** The `?ticket=` every WebSocket route accepts instead of the Authorization header. */
export const TicketQuery = z.object({
  ticket: z.string().optional().describe('A single-use ticket from POST /api/instances/{id}/ws-ticket'),
})

/** The 101 answer, for the OpenAPI document only. */
export const SwitchingProtocols = z.null().describe('Switching Protocols: the connection is now a WebSocket')

const relays = new WeakMap<FastifyRequest, Relay>()

/** What a terminal call can answer: the instance missing, not ready or out of reach. */
const TERMINAL_ERRORS = [
  'instance_not_found',
  'instance_not_ready',
  'instance_waking',
  'instance_unavailable',
  'runner_unavailable',
] as const satisfies readonly ErrorCode[]

/** The interactive terminal over a WebSocket, and its sessions over REST. */
export const terminalRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { terminal } = services

  app.route({
    method: 'GET',
    url: '/api/instances/:id/terminal/ws',
    config: { socket: true },
    schema: {
      operationId: 'terminal.connect',
      summary: 'Open an interactive shell over a WebSocket',
      description:
        'Binary frames carry raw terminal bytes both ways. Text frames are JSON: the client may send {"type":"resize","cols":N,"rows":N}; the server sends {"type":"ready","session_id":...} first and {"type":"exit","code":N} when the shell ends. With session_id the recent output (up to 512 KiB) is replayed and the session continues. A session with no client ends after 15 minutes. Refusals (401, 404, 409) are answered before the upgrade; an instance that stops closes the socket with code 4001, a revoked key or ended sign-in with 4003.',
      tags: ['terminal'],
      params: InstanceParams,
      querystring: TerminalQuery.extend(TicketQuery.shape),
      response: {
        101: SwitchingProtocols,
        ...errorResponses(...TERMINAL_ERRORS, 'invalid_ticket', 'too_many_sessions', 'upgrade_required'),
      },
    },
    preHandler: async (req) => {
      if (!req.ws) throw errors.upgradeRequired()
      relays.set(req, await terminal.open(callerOf(req), req.params.id, req.query))
    },
    wsHandler: (socket, req) => attachWatched(relays.get(req), socket, req, services.keys.watch),
    handler: async () => {
      throw errors.upgradeRequired()
    },
  })

  app.get(
    '/api/instances/:id/terminal/sessions',
    {
      schema: {
        operationId: 'terminal.sessions.list',
        summary: 'List the terminal sessions of an instance',
        tags: ['terminal'],
        params: InstanceParams,
        response: { 200: z.array(TerminalSessionInfo), ...errorResponses(...TERMINAL_ERRORS) },
      },
    },
    async (req) => terminal.list(callerOf(req), req.params.id),
  )

  app.delete(
    '/api/instances/:id/terminal/sessions/:sid',
    {
      schema: {
        operationId: 'terminal.sessions.close',
        summary: 'End a terminal session; its sockets see the exit',
        tags: ['terminal'],
        params: InstanceParams.extend({ sid: z.string().min(1).max(100).describe('Terminal session id') }),
        response: { 204: z.null(), ...errorResponses(...TERMINAL_ERRORS, 'terminal_session_not_found') },
      },
    },
    async (req, reply) => {
      await terminal.close(callerOf(req), req.params.id, req.params.sid)
      return reply.status(204).send(null)
    },
  )
}
