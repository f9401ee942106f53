import { z } from 'zod'

/** Every kind of lifecycle event an instance can have; clients must ignore kinds they do not know. */
export const LIFECYCLE_EVENT_TYPES = [
  'created',
  'starting',
  'ready',
  'rebooting',
  'stopping',
  'stopped',
  'error',
  'crashed',
  'oom_killed',
  'restarted',
  'start_timeout',
  'deleted',
  'sleeping',
  'waking',
  'runaway_processes_killed',
] as const

export const LifecycleEventType = z.enum(LIFECYCLE_EVENT_TYPES)
export type LifecycleEventType = z.infer<typeof LifecycleEventType>

/** What happened to an instance, when and why; `cursor` orders an instance's events. */
export const LifecycleEvent = z
  .object({
    cursor: z.number().int().describe('Increases with every event; resume after it'),
    instance_id: z.string(),
    type: LifecycleEventType,
    reason: z.string().nullable().describe('Why, in words (an exit code, "out of memory", ...)'),
    data: z.record(z.string(), z.unknown()).describe('Facts about the event (exit_code, signal, ...)'),
    created_at: z.string(),
  })
  .meta({ id: 'LifecycleEvent' })
export type LifecycleEvent = z.infer<typeof LifecycleEvent>

/** What a recorder may say about an event besides its type. */
export interface EventDetail {
  reason?: string | null
  data?: Record<string, unknown>
  /** The owner, when the instance's row is already gone (a deletion). */
  userId?: string
}

/** The event types a webhook asks for: some of them, or `*` for all. */
export const WebhookEvents = z
  .array(z.union([LifecycleEventType, z.literal('*')]))
  .min(1)
  .max(LIFECYCLE_EVENT_TYPES.length + 1)
  .describe('Event types to send, or ["*"] for every one')

export const Webhook = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    created_at: z.string(),
  })
  .meta({ id: 'Webhook' })
export type Webhook = z.infer<typeof Webhook>

export const CreatedWebhook = Webhook.extend({
  secret: z
    .string()
    .describe('Signs every delivery (X-Clawport-Signature); shown in this answer only, keep it'),
}).meta({ id: 'CreatedWebhook' })
export type CreatedWebhook = z.infer<typeof CreatedWebhook>

export const CreateWebhookInput = z.object({
  url: z
    .string()
    .min(1)
    .max(2000)
    .describe('An http(s) URL on the public internet; redirects are not followed'),
  events: WebhookEvents.default(['*']),
})
export type CreateWebhookInput = z.infer<typeof CreateWebhookInput>

export const WebhookDelivery = z
  .object({
    id: z.string(),
    webhook_id: z.string(),
    event_cursor: z.number().int(),
    event_type: z.string(),
    instance_id: z.string(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    next_attempt_at: z.string().nullable().describe('When a pending delivery is tried next'),
    last_status: z.number().int().nullable().describe("The receiver's last HTTP status"),
    last_error: z.string().nullable(),
    created_at: z.string(),
    delivered_at: z.string().nullable(),
  })
  .meta({ id: 'WebhookDelivery' })
export type WebhookDelivery = z.infer<typeof WebhookDelivery>
