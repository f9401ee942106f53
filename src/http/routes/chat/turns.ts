import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { TURN_ERROR_CODES } from '../../../core/chat/turn-errors.js'
import { ChatTurnResult } from '../../../core/chat/types.js'
import type { Services } from '../../../core/services.js'
import type { ErrorCode } from '../../../errors.js'
import { callerOf } from '../../plugins/auth.js'
import { withSender } from '../../plugins/instance-door.js'
import { errorResponses, InstanceParams } from '../../schemas.js'
import { openSse, pipeEvents } from '../../sse.js'
import { AbortBody, AbortResult, EventStream, SendBody } from './schemas.js'

const TURN_ERRORS =
  'A failed turn answers the error with `details.session_id` (and `details.partial`, the text so far); a failure of the agent, the model or the way to them is a 502 whatever its code.'

/** What starting a turn can answer. */
const STREAM_ERRORS = [
  'instance_not_found',
  'chat_session_not_found',
  'instance_not_ready',
  'turn_in_progress',
] as const satisfies readonly ErrorCode[]

/** Send a message (waiting for the answer, or streamed as SSE) and abort a running turn. */
export const chatTurnRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { chat } = services

  app.post(
    '/api/instances/:id/chat',
    {
      schema: {
        operationId: 'chat.send',
        summary: 'Send a message and wait for the finished turn',
        description: `The user message is stored before the agent sees it; the turn completes and is stored even if this request goes away. ${TURN_ERRORS}`,
        tags: ['chat'],
        params: InstanceParams,
        body: SendBody,
        response: {
          200: ChatTurnResult,
          ...errorResponses(...STREAM_ERRORS, ...TURN_ERROR_CODES),
        },
      },
    },
    async (req) => chat.send(callerOf(req), req.params.id, withSender(req, req.body)),
  )

  app.post(
    '/api/instances/:id/chat/stream',
    {
      schema: {
        operationId: 'chat.stream',
        summary: 'Send a message and stream the turn as server-sent events',
        description:
          'Events, each with an SSE id equal to its cursor: `session` {session_id} first, `message` {message} (the stored user message), any number of `delta` {text} and `tool` {name, status, arguments?, result?}, then exactly one `done` {message} or `error` {message, code}. A `: ping` comment at least every 15 s. If the client goes away the turn still completes; follow it with GET .../chat/events?after=<last id>. Errors before the stream starts (404, 409 `turn_in_progress` or `instance_not_ready`, 422) are plain JSON.',
        tags: ['chat'],
        params: InstanceParams,
        body: SendBody,
        response: { 200: EventStream, ...errorResponses(...STREAM_ERRORS) },
      },
    },
    async (req, reply) => {
      const started = await chat.start(callerOf(req), req.params.id, withSender(req, req.body))
      const follower = chat.followTurn(started.instanceId, started.firstCursor - 1, started.session.id, true)
      await pipeEvents(openSse(reply), follower)
      return reply
    },
  )

  app.post(
    '/api/instances/:id/chat/abort',
    {
      schema: {
        operationId: 'chat.abort',
        summary: "Abort the session's running turn",
        description:
          'The turn ends with an `error` event, code `aborted`; the text it had so far is kept as an assistant message with status `aborted`. Answers once that is stored; `aborted: false` when no turn was running.',
        tags: ['chat'],
        params: InstanceParams,
        body: AbortBody,
        response: { 200: AbortResult, ...errorResponses('instance_not_found', 'chat_session_not_found') },
      },
    },
    async (req) => chat.abort(callerOf(req), req.params.id, req.body.session_id),
  )
}
