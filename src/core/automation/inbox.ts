import { randomUUID } from 'node:crypto'
import { AppError, errors } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { InboxRow } from '../../store/automation-store.js'
import type { InstanceRow, Store } from '../../store/index.js'
import type { ChatService } from '../chat/chat-service.js'
import type { InstanceService } from '../instances.js'
import { KeyedLock } from '../keyed-lock.js'
import type { Caller } from '../keys.js'
import { asUser } from '../scope.js'
import type { EventBus } from '../shared/bus.js'
import type { SleepService } from '../sleep/sleep-service.js'
import { nowIso } from '../time.js'
import {
  type InboxMessage,
  type InboxSendBody,
  type InboxSender,
  inboxFromRow,
  isSettled,
} from './inbox-types.js'

const TICK_MS = 1_000
/** How long a delivery stays this replica's without a heartbeat; renewed every third of it. */
export const DELIVERY_LEASE_MS = 30_000
const HEARTBEAT_MS = DELIVERY_LEASE_MS / 3
const STOPPED_BEFORE_REPLY = 'The server stopped before the agent replied.'
const BATCH = 50
const MAX_BACKOFF_MS = 30_000
/** Codes of a turn that could not start now but may later: the message waits and is retried. */
const RETRY_CODES = new Set(['instance_not_ready', 'turn_in_progress'])

/** A message to store, with everything decided. */
export interface NewInboxMessage {
  userId: string
  targetId: string
  message: string
  sender: InboxSender
  fromInstance?: string | null
  replyTo?: string | null
  inReplyTo?: string | null
  correlationId?: string | null
  idempotencyKey?: string | null
}

/**
 * Durable messages to instances' agents. A message is stored before anything else, then
 * delivered as a chat turn in the target's inbox session once the target is ready (retried
 * with backoff until then). The chat message takes the inbox message's id, so a delivery
 * repeated after a crash cannot add it twice. The agent's reply goes to `reply_to`'s inbox.
 * Each step is an `inbox` event in the chat streams of the target and of the sending instance.
 * Every replica delivers: a message is claimed first (a lease, taken by one conditional update),
 * so only one replica ever delivers it; the lease is renewed until its reply, and a message whose
 * deliverer died waiting for the reply fails once the lease has expired.
 */
export class InboxService {
  private readonly busy = new Set<string>()
  private readonly sessionLock = new KeyedLock()
  private readonly listeners = new Set<(m: InboxMessage) => void>()
  /** Messages a `waitSettled` here waits on, with how many waiters each. */
  private readonly waited = new Map<string, number>()
  private bus?: EventBus
  private unsubscribeBus?: () => void
  private readonly tasks = new Set<Promise<unknown>>()
  private timer?: NodeJS.Timeout
  private heartbeat?: NodeJS.Timeout
  private ticking = false
  private closed = false
  private sleep?: SleepService

  constructor(
    private readonly store: Store,
    private readonly instances: InstanceService,
    private readonly chat: ChatService,
    private readonly log: Logger,
    /** This replica, as deliveries' lease owner. */
    private readonly owner = 'local',
  ) {}

  /** Messages wake sleeping targets. */
  attachSleep(sleep: SleepService): void {
    this.sleep = sleep
  }

  /**
   * Replicas (PostgreSQL) tell each other of every change to a message over the bus: a new
   * message wakes the deliverers at once instead of at their next poll, and a reply reached on
   * one replica ends a `wait_ms` read waiting on another. One process needs none of it.
   */
  attachBus(bus: EventBus): void {
    if (this.store.dialect !== 'postgres') return
    this.bus = bus
    this.unsubscribeBus = bus.subscribe('inbox', (id) => {
      if (this.closed) return
      this.kick()
      void this.onRemoteChange(id).catch((err: unknown) =>
        this.log.warn({ err, messageId: id }, 'inbox change from another replica not read'),
      )
    })
  }

  /** Hands the stored state of a message changed elsewhere to this replica's waiters. */
  private async onRemoteChange(id: string): Promise<void> {
    const ids = id === '*' ? [...this.waited.keys()] : this.waited.has(id) ? [id] : []
    for (const waitedId of ids) {
      const row = await this.store.automation.inbox.get(waitedId)
      if (!row) continue
      const message = inboxFromRow(row)
      for (const fn of this.listeners) fn(message)
    }
  }

  /** Sends a message from a caller (a key's user, or an instance through its door). */
  async send(
    caller: Caller,
    targetId: string,
    body: InboxSendBody,
  ): Promise<{ message: InboxMessage; created: boolean }> {
    // Messages stay between one user's instances, an administrator's too.
    const target = await this.instances.own(caller, targetId)
    let replyTo = body.reply_to ?? caller.instanceId ?? null
    if (replyTo) replyTo = (await this.instances.own(caller, replyTo)).id
    return this.enqueue({
      userId: caller.user.id,
      targetId: target.id,
      message: body.message,
      sender: caller.instanceId ? 'instance' : (body.sender ?? 'user'),
      fromInstance: caller.instanceId ?? null,
      replyTo,
      correlationId: body.correlation_id ?? null,
      idempotencyKey: body.idempotency_key ?? null,
    })
  }

  /** Stores a message (or finds the one with the same idempotency key) and wakes the deliverer. */
  async enqueue(m: NewInboxMessage): Promise<{ message: InboxMessage; created: boolean }> {
    const at = nowIso()
    const { row, created } = await this.store.automation.inbox.insert({
      id: randomUUID(),
      user_id: m.userId,
      target_id: m.targetId,
      from_instance: m.fromInstance ?? null,
      sender: m.sender,
      reply_to: m.replyTo ?? null,
      in_reply_to: m.inReplyTo ?? null,
      correlation_id: m.correlationId ?? null,
      idempotency_key: m.idempotencyKey ?? null,
      message: m.message,
      status: 'pending',
      attempts: 0,
      next_attempt_at: at,
      created_at: at,
      updated_at: at,
    })
    const message = inboxFromRow(row)
    this.sleep?.tracker.touch(m.targetId)
    if (created) {
      await this.publish(row, 'queued')
      this.kick()
    }
    return { message, created }
  }

  /** Messages to or from an instance, newest first. */
  async list(caller: Caller, instanceId: string, limit: number): Promise<InboxMessage[]> {
    const row = await this.instances.owned(caller, instanceId)
    return (await this.store.automation.inbox.listFor(row.id, limit)).map(inboxFromRow)
  }

  async get(caller: Caller, instanceId: string, id: string): Promise<InboxMessage> {
    const inst = await this.instances.owned(caller, instanceId)
    const row = await this.store.automation.inbox.get(id.toLowerCase())
    if (!row || (row.target_id !== inst.id && row.from_instance !== inst.id))
      throw errors.inboxMessageNotFound(id)
    return inboxFromRow(row)
  }

  /** Waits until a message is replied or failed (or the timeout passes); returns its last state. */
  async waitSettled(id: string, timeoutMs: number): Promise<InboxMessage> {
    const current = await this.store.automation.inbox.get(id)
    if (!current) throw errors.inboxMessageNotFound(id)
    if (isSettled(inboxFromRow(current))) return inboxFromRow(current)
    this.waited.set(id, (this.waited.get(id) ?? 0) + 1)
    return new Promise((resolve) => {
      let ended = false
      const done = (m: InboxMessage) => {
        if (ended) return
        ended = true
        clearTimeout(timer)
        this.listeners.delete(fn)
        const left = (this.waited.get(id) ?? 1) - 1
        if (left > 0) this.waited.set(id, left)
        else this.waited.delete(id)
        resolve(m)
      }
      const fn = (m: InboxMessage) => {
        if (m.id === id && isSettled(m)) done(m)
      }
      const timer = setTimeout(() => {
        void this.store.automation.inbox.get(id).then((r) => done(inboxFromRow(r ?? current)))
      }, timeoutMs)
      this.listeners.add(fn)
      // Settled between the read above and now (here or on another replica): not missed.
      void this.store.automation.inbox.get(id).then(
        (r) => r && fn(inboxFromRow(r)),
        () => {},
      )
    })
  }

  /**
   * Starts delivering: messages interrupted by a stop are settled, pending ones resume. One
   * server on SQLite is alone with its data folder, so every delivered message it finds was cut
   * by its own stop; replicas fail only those whose deliverer's lease expired.
   */
  async start(): Promise<void> {
    if (this.store.dialect === 'sqlite') {
      for (const row of await this.store.automation.inbox.byStatus('delivered')) {
        await this.settle(row, { status: 'failed', error: STOPPED_BEFORE_REPLY })
      }
    } else await this.failAbandoned()
    this.timer = setInterval(() => this.kick(), TICK_MS)
    this.timer.unref()
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS)
    this.heartbeat.unref()
    this.kick()
  }

  async close(): Promise<void> {
    this.closed = true
    this.unsubscribeBus?.()
    if (this.timer) clearInterval(this.timer)
    if (this.heartbeat) clearInterval(this.heartbeat)
    await Promise.allSettled([...this.tasks])
  }

  /** Renews this replica's deliveries; on PostgreSQL also fails those a dead replica left. */
  private async beat(): Promise<void> {
    try {
      await this.store.automation.inbox.renew(this.owner, leaseUntil())
      if (this.store.dialect === 'postgres') await this.failAbandoned()
    } catch (err) {
      this.log.error({ err }, 'inbox heartbeat failed')
    }
  }

  /** Delivered messages whose deliverer's lease expired: the reply it waited for is lost. */
  private async failAbandoned(): Promise<void> {
    for (const row of await this.store.automation.inbox.failAbandoned(nowIso(), STOPPED_BEFORE_REPLY)) {
      this.log.warn({ messageId: row.id }, 'inbox message failed: its deliverer stopped before the reply')
      await this.publish(row, 'failed')
    }
  }

  private kick(): void {
    if (this.ticking || this.closed) return
    this.ticking = true
    this.tick()
      .catch((err: unknown) => this.log.error({ err }, 'inbox delivery failed'))
      .finally(() => {
        this.ticking = false
      })
  }

  private async tick(): Promise<void> {
    for (const due of await this.store.automation.inbox.due(nowIso(), BATCH)) {
      if (this.busy.has(due.target_id) || this.closed) continue
      this.busy.add(due.target_id)
      // Claimed before anything else: another replica that saw it due too finds it taken.
      const row = await this.store.automation.inbox
        .claim(due.id, this.owner, nowIso(), leaseUntil())
        .catch((err: unknown) => {
          this.log.error({ err, messageId: due.id }, 'inbox claim failed')
          return undefined
        })
      if (!row) {
        this.busy.delete(due.target_id)
        continue
      }
      const task = this.deliver(row)
        .catch((err: unknown) => this.log.error({ err, messageId: row.id }, 'inbox delivery failed'))
        .finally(async () => {
          await this.store.automation.inbox
            .release(row.id, this.owner)
            .catch((err: unknown) => this.log.warn({ err, messageId: row.id }, 'inbox lease not released'))
          this.busy.delete(row.target_id)
          this.tasks.delete(task)
          this.kick()
        })
      this.tasks.add(task)
    }
  }

  private async deliver(row: InboxRow): Promise<void> {
    // Delivered before a crash, but not marked: the chat message carries the inbox id.
    if (await this.store.automation.inbox.chatMessageExists(row.id)) {
      await this.settle(row, { status: 'failed', error: STOPPED_BEFORE_REPLY })
      return
    }
    const found = await this.store.instances.get(row.target_id)
    if (!found) return
    // A sleeping target wakes for its message; one that takes longer is retried.
    const target = this.sleep ? await this.sleep.awake(found, 'agent').catch(() => found) : found
    if (target.status !== 'ready') return this.retry(row, `instance ${target.id} is ${target.status}`)
    const sessionId = await this.inboxSession(target)
    let started: Awaited<ReturnType<ChatService['start']>>
    try {
      started = await this.chat.start(asUser(row.user_id), target.id, {
        message: await this.frame(row),
        session_id: sessionId,
        message_id: row.id,
        ...(row.from_instance ? { from_instance: row.from_instance } : {}),
      })
    } catch (err) {
      if (err instanceof AppError && RETRY_CODES.has(err.code)) return this.retry(row, err.message)
      throw err
    }
    const at = nowIso()
    const delivered = await this.store.automation.inbox.update(row.id, {
      status: 'delivered',
      session_id: sessionId,
      attempts: Number(row.attempts) + 1,
      delivered_at: at,
      updated_at: at,
    })
    if (delivered) await this.publish(delivered, 'delivered')
    const out = await started.outcome
    const current = delivered ?? row
    if (!out.ok) {
      await this.settle(current, { status: 'failed', error: out.error })
      return
    }
    const replied = await this.settle(current, { status: 'replied', reply: out.message.content })
    if (replied?.reply_to) {
      await this.enqueue({
        userId: replied.user_id,
        targetId: replied.reply_to,
        message: replied.reply ?? '',
        sender: 'instance',
        fromInstance: replied.target_id,
        inReplyTo: replied.id,
        correlationId: replied.correlation_id,
        // One reply per message, whatever happens to this process.
        idempotencyKey: `reply:${replied.id}`,
      }).catch((err: unknown) => this.log.warn({ err, messageId: replied.id }, 'reply not queued'))
    }
  }

  private async retry(row: InboxRow, reason: string): Promise<void> {
    const attempts = Number(row.attempts) + 1
    const delayMs = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(attempts, 10))
    await this.store.automation.inbox.update(row.id, {
      attempts,
      error: reason,
      next_attempt_at: new Date(Date.now() + delayMs).toISOString(),
      updated_at: nowIso(),
    })
  }

  private async settle(
    row: InboxRow,
    patch: { status: 'replied' | 'failed'; reply?: string; error?: string },
  ): Promise<InboxRow | undefined> {
    const at = nowIso()
    const next = await this.store.automation.inbox.update(row.id, {
      status: patch.status,
      reply: patch.reply ?? null,
      error: patch.error ?? null,
      ...(patch.status === 'replied' ? { replied_at: at } : {}),
      updated_at: at,
    })
    if (next) await this.publish(next, patch.status)
    return next
  }

  /** The text the agent gets: who it is from, then the message. */
  private async frame(row: InboxRow): Promise<string> {
    if (!row.from_instance) return row.message
    const from = await this.store.instances.get(row.from_instance)
    const who = `instance ${from?.name ? `"${from.name}" ` : ''}${row.from_instance}`
    const what = row.in_reply_to
      ? `Reply from ${who} to your inbox message ${row.in_reply_to}`
      : `Message from ${who}`
    const corr = row.correlation_id ? `; correlation_id ${row.correlation_id}` : ''
    return `[${what} (Clawport inbox ${row.id}${corr})]\n${row.message}`
  }

  /** The instance's inbox session, made on first use. */
  private inboxSession(inst: InstanceRow): Promise<string> {
    return this.sessionLock.run(inst.id, async () => {
      const known = await this.store.automation.inbox.sessionOf(inst.id)
      if (known) return known
      const session = await this.chat.createSession(asUser(inst.user_id), inst.id, { title: 'Inbox' })
      await this.store.automation.inbox.setSession(inst.id, session.id)
      return session.id
    })
  }

  /** An `inbox` event in the target's stream and in the sending instance's. */
  private async publish(row: InboxRow, state: string): Promise<void> {
    const message = inboxFromRow(row)
    for (const fn of this.listeners) fn(message)
    await this.bus
      ?.publish('inbox', row.id)
      .catch((err: unknown) => this.log.warn({ err, messageId: row.id }, 'inbox wake-up not sent'))
    const ends: Array<[string, string]> = [[row.target_id, 'received']]
    if (row.from_instance && row.from_instance !== row.target_id) ends.push([row.from_instance, 'sent'])
    for (const [instanceId, direction] of ends) {
      const inst = await this.store.instances.get(instanceId)
      if (!inst) continue
      const sessionId = await this.inboxSession(inst)
      await this.chat.events.append(inst.id, sessionId, 'inbox', { state, direction, message })
    }
  }
}

function leaseUntil(): string {
  return new Date(Date.now() + DELIVERY_LEASE_MS).toISOString()
}
