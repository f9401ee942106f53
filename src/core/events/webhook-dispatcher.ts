import { Agent, type Dispatcher, request } from 'undici'
import { publicConnector } from '../../broker/egress.js'
import type { Logger } from '../../log.js'
import type { WebhookDeliveryRow } from '../../store/events-store.js'
import type { Store } from '../../store/index.js'
import { VERSION } from '../../version.js'
import { nowIso } from '../time.js'
import { SIGNATURE_HEADER, signatureHeader } from './signature.js'
import { DELIVERIES_KEPT, type WebhookService } from './webhooks.js'

/** Attempts per delivery before it is marked failed. */
export const MAX_ATTEMPTS = 8
/** The wait before the second attempt; each later one is four times longer (1 s, 4 s ... 68 min; 1.5 h in all). */
export const RETRY_BASE_MS = 1000
const RETRY_FACTOR = 4
/** A receiver has this long to answer; its body is read to at most RESPONSE_READ_BYTES. */
export const DELIVERY_TIMEOUT_MS = 10_000
const RESPONSE_READ_BYTES = 1024
/** Deliveries sent at once, and taken from the queue per round. */
const CONCURRENCY = 4
const POLL_MS = 1000

/** The wait before attempt `n + 1`, after `n` failed attempts. */
export function retryDelayMs(failedAttempts: number): number {
  return RETRY_BASE_MS * RETRY_FACTOR ** Math.max(0, failedAttempts - 1)
}

/**
 * Sends queued webhook deliveries. The queue is rows in the store, so what was pending when the
 * server stopped is sent after it starts again; an event is recorded (and queued) without waiting
 * for any receiver. At least once: a receiver may see a delivery twice (the `X-Clawport-Delivery`
 * id tells them apart).
 */
export class WebhookDispatcher {
  private timer?: NodeJS.Timeout
  private readonly inFlight = new Map<string, Promise<void>>()
  private running = false
  private again = false
  private closed = false
  private readonly agent: Dispatcher

  constructor(
    private readonly store: Store,
    private readonly webhooks: WebhookService,
    allowPrivate: boolean,
    private readonly log: Logger,
  ) {
    // No redirects (undici's request never follows one), bounded waits, public addresses only
    // unless the operator allows private ones, as for model URLs.
    this.agent = new Agent({
      headersTimeout: DELIVERY_TIMEOUT_MS,
      bodyTimeout: DELIVERY_TIMEOUT_MS,
      connectTimeout: DELIVERY_TIMEOUT_MS,
      ...(allowPrivate ? {} : { connect: publicConnector }),
    })
    webhooks.onQueued(() => this.nudge())
  }

  start(): void {
    this.timer = setInterval(() => this.nudge(), POLL_MS)
    this.timer.unref()
    this.nudge()
  }

  /** Looks at the queue now. */
  nudge(): void {
    if (this.closed) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    void this.round()
      .catch((err: unknown) => this.log.error({ err }, 'webhook round failed'))
      .finally(() => {
        this.running = false
        if (this.again) {
          this.again = false
          this.nudge()
        }
      })
  }

  private async round(): Promise<void> {
    const free = CONCURRENCY - this.inFlight.size
    if (free <= 0) return
    const due = await this.store.events.deliveries.due(nowIso(), CONCURRENCY * 2)
    for (const d of due.filter((x) => !this.inFlight.has(x.id)).slice(0, free)) {
      const task = this.attempt(d)
        .catch((err: unknown) => this.log.error({ err, deliveryId: d.id }, 'webhook delivery failed'))
        .finally(() => {
          this.inFlight.delete(d.id)
          this.nudge()
        })
      this.inFlight.set(d.id, task)
    }
  }

  private async attempt(d: WebhookDeliveryRow): Promise<void> {
    const hook = await this.store.events.webhooks.get(d.webhook_id)
    if (!hook) return
    const attempts = d.attempts + 1
    let status: number | null = null
    let error: string | null = null
    try {
      const res = await request(hook.url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          'content-type': 'application/json',
          'user-agent': `clawport-webhooks/${VERSION}`,
          'x-clawport-event': d.event_type,
          'x-clawport-delivery': d.id,
          [SIGNATURE_HEADER]: signatureHeader(
            this.webhooks.secretOf(hook),
            Math.floor(Date.now() / 1000),
            d.body,
          ),
        },
        body: d.body,
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      })
      status = res.statusCode
      await drain(res.body)
      if (status < 200 || status >= 300) error = `the receiver answered ${status}`
    } catch (err) {
      const e = err as Error & { code?: string }
      error = e.code === 'EADDRNOTALLOWED' ? e.message : `${e.code ? `${e.code}: ` : ''}${e.message}`
    }
    const at = nowIso()
    if (!error) {
      await this.store.events.deliveries.update(d.id, {
        status: 'delivered',
        attempts,
        last_status: status,
        last_error: null,
        updated_at: at,
        delivered_at: at,
      })
      await this.store.events.deliveries.prune(hook.id, DELIVERIES_KEPT)
      return
    }
    const failed = attempts >= MAX_ATTEMPTS
    this.log.warn(
      { webhookId: hook.id, deliveryId: d.id, attempts, status, error },
      'webhook delivery refused',
    )
    await this.store.events.deliveries.update(d.id, {
      status: failed ? 'failed' : 'pending',
      attempts,
      last_status: status,
      last_error: error.slice(0, 500),
      updated_at: at,
      next_attempt_at: new Date(Date.now() + retryDelayMs(attempts)).toISOString(),
    })
    if (failed) await this.store.events.deliveries.prune(hook.id, DELIVERIES_KEPT)
  }

  /** Stops taking from the queue and waits for the attempts in flight. */
  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    await Promise.allSettled([...this.inFlight.values()])
    await this.agent.close()
  }
}

/** Reads at most RESPONSE_READ_BYTES of a receiver's answer, then lets the rest go. */
async function drain(body: Dispatcher.ResponseData['body']): Promise<void> {
  let read = 0
  for await (const chunk of body) {
    read += (chunk as Buffer).length
    if (read >= RESPONSE_READ_BYTES) break
  }
  body.destroy()
}
