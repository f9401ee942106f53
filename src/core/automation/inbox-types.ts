import { z } from 'zod'
import type { InboxRow } from '../../store/automation-store.js'

/** Who sent an inbox message. */
export const InboxSender = z.enum(['user', 'program', 'instance', 'swarm'])
export type InboxSender = z.infer<typeof InboxSender>

export const InboxSendBody = z.object({
  message: z.string().min(1).max(200_000),
  reply_to: z
    .string()
    .optional()
    .describe(
      "An instance whose inbox receives the agent's reply. A message sent from inside an instance replies to that instance unless this says otherwise.",
    ),
  correlation_id: z.string().min(1).max(200).optional().describe('Carried to the reply unchanged'),
  idempotency_key: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe(
      'A second message with the same key for the same instance returns the first (also read from the Idempotency-Key header)',
    ),
  sender: z
    .enum(['user', 'program'])
    .optional()
    .describe('Who is sending, when not an instance (default user)'),
})
export type InboxSendBody = z.infer<typeof InboxSendBody>

/**
 * A message to an instance's agent. `status`: `pending` until it is in the instance's chat
 * history (retried while the instance is not ready), `delivered` while its agent answers,
 * then `replied` (with `reply`) or `failed` (with `error`).
 */
export const InboxMessage = z
  .object({
    id: z.string(),
    instance_id: z.string().describe('The instance the message is for'),
    from_instance: z.string().nullable(),
    sender: z.string(),
    reply_to: z.string().nullable(),
    in_reply_to: z.string().nullable().describe('The inbox message this one answers'),
    correlation_id: z.string().nullable(),
    idempotency_key: z.string().nullable(),
    message: z.string(),
    status: z.enum(['pending', 'delivered', 'replied', 'failed']),
    attempts: z.number().int(),
    session_id: z
      .string()
      .nullable()
      .describe("The chat session it was delivered in (the instance's inbox session)"),
    reply: z.string().nullable(),
    error: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    delivered_at: z.string().nullable(),
    replied_at: z.string().nullable(),
  })
  .meta({ id: 'InboxMessage' })
export type InboxMessage = z.infer<typeof InboxMessage>

export function inboxFromRow(r: InboxRow): InboxMessage {
  return {
    id: r.id,
    instance_id: r.target_id,
    from_instance: r.from_instance,
    sender: r.sender,
    reply_to: r.reply_to,
    in_reply_to: r.in_reply_to,
    correlation_id: r.correlation_id,
    idempotency_key: r.idempotency_key,
    message: r.message,
    status: r.status as InboxMessage['status'],
    attempts: Number(r.attempts),
    session_id: r.session_id,
    reply: r.reply,
    error: r.error,
    created_at: r.created_at,
    updated_at: r.updated_at,
    delivered_at: r.delivered_at,
    replied_at: r.replied_at,
  }
}

/** Whether a message has reached its end. */
export function isSettled(m: InboxMessage): boolean {
  return m.status === 'replied' || m.status === 'failed'
}
