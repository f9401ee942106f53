import { randomBytes, randomUUID } from 'node:crypto'
import { isPrivateAddress } from '../../broker/egress.js'
import { errors } from '../../errors.js'
import type { WebhookDeliveryRow, WebhookRow } from '../../store/events-store.js'
import type { Store } from '../../store/index.js'
import { UUID_RE } from '../ids.js'
import type { SecretBox } from '../secret-box.js'
import { nowIso } from '../time.js'
import type { CreatedWebhook, CreateWebhookInput, LifecycleEvent, Webhook, WebhookDelivery } from './types.js'

/** Webhooks one user may have. */
export const MAX_WEBHOOKS_PER_USER = 20
/** Finished deliveries kept per webhook (its delivery log); pending ones always stay. */
export const DELIVERIES_KEPT = 200

/**
 * Refuses a webhook URL that is not http(s), or whose host is a localhost name or a private,
 * loopback or link-local address literal (422), as model URLs are; names that resolve to such
 * addresses are refused when a delivery connects (see the dispatcher).
 */
export function assertWebhookUrl(url: string, allowPrivate: boolean): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw errors.webhookUrlNotAllowed('is not a URL')
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw errors.webhookUrlNotAllowed('must be http:// or https://')
  const host = parsed.hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.+$/, '')
    .toLowerCase()
  if (host === '') throw errors.webhookUrlNotAllowed('has no host')
  if (!allowPrivate && (host === 'localhost' || host.endsWith('.localhost') || isPrivateAddress(host)))
    throw errors.webhookUrlNotAllowed(
      'points at a private, loopback or link-local address; it must be reachable on the public internet (the operator can allow private addresses with CLAWPORT_MODEL_PRIVATE_URLS=allow)',
    )
  return parsed.toString()
}

/** The wire body of one event, as sent and signed. */
export function deliveryBody(e: LifecycleEvent): string {
  return JSON.stringify({ id: `evt_${e.cursor}`, ...e })
}

/** An owner's webhooks: registered, listed, removed, and the deliveries of each. */
export class WebhookService {
  private readonly listeners = new Set<() => void>()

  constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
    private readonly allowPrivate: boolean,
  ) {}

  async create(userId: string, input: CreateWebhookInput): Promise<CreatedWebhook> {
    const url = assertWebhookUrl(input.url, this.allowPrivate)
    if ((await this.store.events.webhooks.countByUser(userId)) >= MAX_WEBHOOKS_PER_USER)
      throw errors.webhookLimit(MAX_WEBHOOKS_PER_USER)
    const secret = `whsec_${randomBytes(32).toString('base64url')}`
    const events = input.events.includes('*') ? ['*'] : [...new Set(input.events)]
    const row: WebhookRow = {
      id: randomUUID(),
      user_id: userId,
      url,
      events,
      secret: this.box.seal(secret),
      created_at: nowIso(),
    }
    await this.store.events.webhooks.insert(row)
    return { ...toPublic(row), secret }
  }

  async list(userId: string): Promise<Webhook[]> {
    return (await this.store.events.webhooks.listByUser(userId)).map(toPublic)
  }

  async remove(userId: string, id: string): Promise<void> {
    await this.own(userId, id)
    await this.store.events.webhooks.remove(id.toLowerCase())
  }

  async deliveries(userId: string, id: string, limit: number): Promise<WebhookDelivery[]> {
    const hook = await this.own(userId, id)
    return (await this.store.events.deliveries.list(hook.id, limit)).map(deliveryToPublic)
  }

  /** Queues the event for every webhook of its owner that asks for its type. */
  async enqueue(userId: string, e: LifecycleEvent): Promise<number> {
    const hooks = (await this.store.events.webhooks.listByUser(userId)).filter((h) => {
      return h.events.includes('*') || h.events.includes(e.type)
    })
    if (!hooks.length) return 0
    const at = nowIso()
    const body = deliveryBody(e)
    await this.store.events.deliveries.insert(
      hooks.map((h) => ({
        id: randomUUID(),
        webhook_id: h.id,
        event_cursor: e.cursor,
        event_type: e.type,
        instance_id: e.instance_id,
        body,
        status: 'pending',
        attempts: 0,
        next_attempt_at: at,
        last_status: null,
        last_error: null,
        created_at: at,
        updated_at: at,
        delivered_at: null,
      })),
    )
    for (const fn of this.listeners) fn()
    return hooks.length
  }

  /** Calls fn whenever deliveries are queued (the dispatcher wakes up). */
  onQueued(fn: () => void): void {
    this.listeners.add(fn)
  }

  /** The secret of a webhook, to sign with. */
  secretOf(row: WebhookRow): string {
    return this.box.open(row.secret)
  }

  private async own(userId: string, id: string): Promise<WebhookRow> {
    const row = UUID_RE.test(id) ? await this.store.events.webhooks.get(id.toLowerCase()) : undefined
    if (!row || row.user_id !== userId) throw errors.webhookNotFound(id)
    return row
  }
}

function toPublic(row: WebhookRow): Webhook {
  return { id: row.id, url: row.url, events: row.events, created_at: row.created_at }
}

function deliveryToPublic(row: WebhookDeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    webhook_id: row.webhook_id,
    event_cursor: row.event_cursor,
    event_type: row.event_type,
    instance_id: row.instance_id,
    status: row.status as WebhookDelivery['status'],
    attempts: row.attempts,
    next_attempt_at: row.status === 'pending' ? row.next_attempt_at : null,
    last_status: row.last_status,
    last_error: row.last_error,
    created_at: row.created_at,
    delivered_at: row.delivered_at,
  }
}
