import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { InboxMessage, InboxSendBody } from '../../core/automation/inbox-types.js'
import type { Services } from '../../core/services.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses, InstanceParams } from '../schemas.js'

const MAX_WAIT_MS = 120_000

/** The durable inbox of an instance's agent: send, list, and read (optionally waiting for the reply). */
export const inboxRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { inbox } = services

  app.post(
    '/api/instances/:id/inbox',
    {
      schema: {
        operationId: 'inbox.send',
        summary: "Deliver a message to an instance's agent",
        description:
          "Stored first, then delivered as a chat turn in the instance's inbox session as soon as it is ready (retried until then). The agent's reply goes to `reply_to`'s inbox with the same `correlation_id`. 202 for a new message; 200 with the first message when the idempotency key was seen before. Sent from inside an instance, the message records `from_instance`.",
        tags: ['inbox'],
        params: InstanceParams,
        headers: z.object({ 'idempotency-key': z.string().min(1).max(200).optional() }).loose(),
        body: InboxSendBody,
        response: { 200: InboxMessage, 202: InboxMessage, ...errorResponses('instance_not_found') },
      },
    },
    async (req, reply) => {
      const key = req.body.idempotency_key ?? req.headers['idempotency-key']
      const out = await inbox.send(callerOf(req), req.params.id, {
        ...req.body,
        ...(key ? { idempotency_key: key } : {}),
      })
      return reply.code(out.created ? 202 : 200).send(out.message)
    },
  )

  app.get(
    '/api/instances/:id/inbox',
    {
      schema: {
        operationId: 'inbox.list',
        summary: 'Messages sent to or from an instance, newest first',
        tags: ['inbox'],
        params: InstanceParams,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
        response: { 200: z.array(InboxMessage), ...errorResponses('instance_not_found') },
      },
    },
    async (req) => inbox.list(callerOf(req), req.params.id, req.query.limit),
  )

  app.get(
    '/api/instances/:id/inbox/:message_id',
    {
      schema: {
        operationId: 'inbox.get',
        summary: 'One inbox message; with wait_ms, waits that long at most for its reply',
        tags: ['inbox'],
        params: InstanceParams.extend({ message_id: z.string() }),
        querystring: z.object({ wait_ms: z.coerce.number().int().min(0).max(MAX_WAIT_MS).optional() }),
        response: { 200: InboxMessage, ...errorResponses('instance_not_found', 'inbox_message_not_found') },
      },
    },
    async (req) => {
      const m = await inbox.get(callerOf(req), req.params.id, req.params.message_id)
      if (!req.query.wait_ms || m.status === 'replied' || m.status === 'failed') return m
      return inbox.waitSettled(m.id, req.query.wait_ms)
    },
  )
}
