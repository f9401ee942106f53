import { z } from 'zod'
import { ChatToolJson } from '../../store/codecs.js'
import type { ChatEventRow, ChatMessageRow, ChatSessionRow } from '../../store/index.js'

/** A chat session of an instance. */
export const ChatSession = z
  .object({
    id: z.string(),
    title: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    last_activity: z.string().describe('When its last message or event was written'),
  })
  .meta({ id: 'ChatSession' })
export type ChatSession = z.infer<typeof ChatSession>

export const ChatRole = z.enum(['user', 'assistant', 'tool', 'system'])
export type ChatRole = z.infer<typeof ChatRole>

/** The tool call a `tool` message carries (the store checks it as it reads it). */
export const ChatTool = ChatToolJson
export type ChatTool = z.infer<typeof ChatTool>

/**
 * One stored message. `status`: `complete` for user and finished assistant messages, `error` or
 * `aborted` for an assistant message cut short (its partial text kept), `running`,
 * `completed` or `failed` for tool calls.
 */
export const ChatMessage = z
  .object({
    id: z.string(),
    session_id: z.string(),
    seq: z.number().int().describe('Position in the session, from 1'),
    role: ChatRole,
    content: z.string(),
    status: z.string(),
    tool: ChatTool.optional(),
    from_instance: z
      .string()
      .optional()
      .describe('The instance whose agent sent this message (through its Clawport skill or inbox)'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'ChatMessage' })
export type ChatMessage = z.infer<typeof ChatMessage>

/** Event names of the chat streams; clients ignore names they do not know. */
export const ChatEventType = z.enum(['session', 'message', 'delta', 'tool', 'done', 'error'])
export type ChatEventType = z.infer<typeof ChatEventType>

/** One persisted chat event; `cursor` increases by one per instance. */
export const ChatEvent = z
  .object({
    cursor: z.number().int(),
    session_id: z.string(),
    type: z.string(),
    data: z.record(z.string(), z.unknown()),
    created_at: z.string(),
  })
  .meta({ id: 'ChatEvent' })
export type ChatEvent = z.infer<typeof ChatEvent>

/** A finished turn, as `POST /chat` answers it. */
export const ChatTurnResult = z
  .object({
    session_id: z.string(),
    message: ChatMessage.describe('The assistant message'),
    messages: z
      .array(ChatMessage)
      .describe('Every message of the turn: the user message, tool calls, the assistant message'),
  })
  .meta({ id: 'ChatTurnResult' })
export type ChatTurnResult = z.infer<typeof ChatTurnResult>

export function sessionFromRow(r: ChatSessionRow): ChatSession {
  return {
    id: r.id,
    title: r.title,
    created_at: r.created_at,
    updated_at: r.updated_at,
    last_activity: r.last_activity,
  }
}

export function messageFromRow(r: ChatMessageRow): ChatMessage {
  return {
    id: r.id,
    session_id: r.session_id,
    seq: Number(r.seq),
    role: r.role as ChatRole,
    content: r.content,
    status: r.status,
    ...(r.tool ? { tool: r.tool } : {}),
    ...(r.from_instance ? { from_instance: r.from_instance } : {}),
    created_at: r.created_at,
    updated_at: r.updated_at,
  }
}

export function eventFromRow(r: ChatEventRow): ChatEvent {
  return {
    cursor: Number(r.cursor),
    session_id: r.session_id,
    type: r.type,
    data: r.data,
    created_at: r.created_at,
  }
}
