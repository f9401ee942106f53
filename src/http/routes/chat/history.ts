import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { MAX_WAIT_MS } from '../../../core/chat/chat-service.js'
import { ChatEvent, ChatMessage } from '../../../core/chat/types.js'
import type { Services } from '../../../core/services.js'
import { errors } from '../../../errors.js'
import { callerOf } from '../../plugins/auth.js'
import { errorResponses, InstanceParams } from '../../schemas.js'
import { openSse, pipeEvents } from '../../sse.js'
import { EventStream, Position, SessionId } from './schemas.js'

const MessagesQuery = z.object({
  session_id: SessionId.optional().describe('Defaults to the most recently active session'),
  tail: z.stringbool().optional().describe('The last `limit` messages instead of the first'),
  limit: z.coerce.number().int().min(1).max(500).default(20),
  before: Position.optional().describe('Only messages with a seq below this'),
  after: Position.optional().describe('Only messages with a seq above this'),
})

const EventsQuery = z.object({
  session_id: SessionId.optional().describe("Only this session's events"),
  after: Position.optional().describe(
    'Events after this cursor (default 0: all); the Last-Event-ID header wins',
  ),
  stream: z
    .stringbool()
    .optional()
    .describe('Answer as text/event-stream (as does Accept: text/event-stream)'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(100)
    .describe('JSON only: at most this many events'),
  wait_ms: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_WAIT_MS)
    .optional()
    .describe('JSON only: wait this long at most for the first event'),
})

/** A Last-Event-ID header, when it is a cursor. */
function lastEventId(header: unknown): number | undefined {
  if (typeof header !== 'string' || !header.trim()) return undefined
  const n = Number(header.trim())
  if (!Number.isSafeInteger(n) || n < 0)
    throw errors.validation('Last-Event-ID must be an event cursor (an integer).', {
      header: 'last-event-id',
    })
  return n
}

/** Message history and the event log (JSON, or followed as SSE). */
export const chatHistoryRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { chat } = services

  app.get(
    '/api/instances/:id/chat/messages',
    {
      schema: {
        operationId: 'chat.messages',
        summary: "A window of a session's messages, oldest to newest",
        description: 'With tail=true the most recent `limit` messages; before/after bound the window by seq.',
        tags: ['chat'],
        params: InstanceParams,
        querystring: MessagesQuery,
        response: {
          200: z.array(ChatMessage),
          ...errorResponses('instance_not_found', 'chat_session_not_found'),
        },
      },
    },
    async (req) => chat.messages(callerOf(req), req.params.id, req.query),
  )

  app.get(
    '/api/instances/:id/chat/events',
    {
      schema: {
        operationId: 'chat.events',
        summary: 'Chat events after a cursor, as JSON or followed live as SSE',
        description:
          'With Accept: text/event-stream or stream=true: every persisted event after the cursor, then live ones, each with its cursor as SSE id, with no gap and no duplicate across reconnects (Last-Event-ID). Otherwise a JSON array of events after the cursor, waiting up to wait_ms for the first.',
        tags: ['chat'],
        params: InstanceParams,
        querystring: EventsQuery,
        headers: z.object({ 'last-event-id': z.string().optional() }).loose(),
        response: {
          200: z.array(ChatEvent).or(EventStream),
          ...errorResponses('instance_not_found', 'chat_session_not_found'),
        },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req)
      const after = lastEventId(req.headers['last-event-id']) ?? req.query.after ?? 0
      const wantsStream = req.query.stream ?? String(req.headers.accept ?? '').includes('text/event-stream')
      if (!wantsStream) {
        return chat.listEvents(caller, req.params.id, {
          after,
          limit: req.query.limit,
          ...(req.query.session_id ? { session_id: req.query.session_id } : {}),
          ...(req.query.wait_ms !== undefined ? { wait_ms: req.query.wait_ms } : {}),
        })
      }
      const follower = await chat.follow(caller, req.params.id, {
        after,
        ...(req.query.session_id ? { session_id: req.query.session_id } : {}),
      })
      const sse = openSse(reply)
      sse.comment(`following after ${after}`)
      await pipeEvents(sse, follower)
      return reply
    },
  )
}
