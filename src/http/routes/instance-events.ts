import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { MAX_EVENTS_WAIT_MS } from '../../core/events/event-service.js'
import { LifecycleEvent } from '../../core/events/types.js'
import type { Services } from '../../core/services.js'
import { errors } from '../../errors.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses, InstanceParams } from '../schemas.js'
import { openSse } from '../sse.js'

const Cursor = z.coerce.number().int().min(0)

const EventsQuery = z.object({
  after: Cursor.optional().describe(
    'Events after this cursor (default 0: all kept); the Last-Event-ID header wins',
  ),
  stream: z
    .stringbool()
    .optional()
    .describe('Answer as text/event-stream (as does Accept: text/event-stream)'),
  limit: z.coerce.number().int().min(1).max(500).default(100).describe('JSON only: at most this many events'),
  wait_ms: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_EVENTS_WAIT_MS)
    .optional()
    .describe('JSON only: wait this long at most for the first event'),
})

const EventStream = z
  .string()
  .describe('text/event-stream: id (the event cursor), event (its type), JSON data')

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

/** An instance's lifecycle events: its status history with the reasons, read or followed. */
export const instanceEventRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (
  app,
  { services },
) => {
  app.get(
    '/api/instances/:id/events',
    {
      schema: {
        operationId: 'instances.events',
        summary: "An instance's lifecycle events after a cursor, as JSON or followed live as SSE",
        description:
          'Every status change, crash, OOM kill and failed start, with its reason. With Accept: text/event-stream or stream=true: the kept events after the cursor, then live ones, each with its cursor as SSE id (resume with Last-Event-ID). Otherwise a JSON array, oldest first, waiting up to wait_ms for the first.',
        tags: ['instances'],
        params: InstanceParams,
        querystring: EventsQuery,
        headers: z.object({ 'last-event-id': z.string().optional() }).loose(),
        response: { 200: z.array(LifecycleEvent).or(EventStream), ...errorResponses('instance_not_found') },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req)
      const after = lastEventId(req.headers['last-event-id']) ?? req.query.after ?? 0
      const wantsStream = req.query.stream ?? String(req.headers.accept ?? '').includes('text/event-stream')
      if (!wantsStream) {
        return services.events.read(caller, req.params.id, {
          after,
          limit: req.query.limit,
          ...(req.query.wait_ms !== undefined ? { wait_ms: req.query.wait_ms } : {}),
        })
      }
      const follower = await services.events.follow(caller, req.params.id, after)
      const sse = openSse(reply)
      sse.onStop(() => follower.close())
      sse.comment(`following after ${after}`)
      try {
        for await (const e of follower) {
          if (sse.stopped) break
          if (!sse.send(e.cursor, e.type, e)) await sse.drained()
        }
      } finally {
        follower.close()
        sse.stop()
      }
      return reply
    },
  )
}
