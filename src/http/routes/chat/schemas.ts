import { z } from 'zod'

/** The most text one chat message may carry. */
export const MAX_MESSAGE_CHARS = 200_000

export const SessionId = z.string().min(1).max(100).describe('Chat session id (UUID)')

export const SendBody = z.object({
  message: z
    .string()
    .max(MAX_MESSAGE_CHARS)
    .refine((s) => s.trim().length > 0, 'message must not be empty')
    .describe('The user message'),
  session_id: SessionId.optional().describe('Defaults to the most recently active session, or a new one'),
})

export const CreateSessionBody = z.object({ title: z.string().trim().min(1).max(200).optional() }).nullish()

export const AbortBody = z.object({ session_id: SessionId })

export const AbortResult = z.object({
  session_id: z.string(),
  aborted: z.boolean().describe('False when no turn was running'),
})

/** A cursor or seq in a query string. */
export const Position = z.coerce.number().int().min(0)

/** What an SSE route answers, for the OpenAPI document only. */
export const EventStream = z
  .string()
  .describe('text/event-stream: id (the event cursor), event and JSON data lines')
