/**
 * The lifecycle event log of instances. To record one:
 *
 *   services.events.record(instanceId: string, type: LifecycleEventType,
 *     detail?: { reason?: string | null; data?: Record<string, unknown>; userId?: string })
 *     : Promise<LifecycleEvent | undefined>
 *
 * It never rejects and never waits for a webhook receiver: call it with `void` from anywhere in
 * the state machine. Events of one instance are stored in the order `record` was called.
 * Status changes (`sleeping`, `waking` included) are already recorded from the lifecycle's
 * `onTransition` (see transition-events.ts): call `record` only for what is not one.
 */
import type { Logger } from '../../log.js'
import type { InstanceEventRow } from '../../store/events-store.js'
import type { Store } from '../../store/index.js'
import { KeyedLock } from '../keyed-lock.js'
import type { Actor } from '../scope.js'
import { type EventBus, MemoryBus } from '../shared/bus.js'
import { LiveTails } from '../shared/live-tail.js'
import { nowIso } from '../time.js'
import { EventFollower, type EventSource } from './follower.js'
import type { EventDetail, LifecycleEvent, LifecycleEventType } from './types.js'
import type { WebhookService } from './webhooks.js'

/** Events kept per instance; the oldest go first. */
export const EVENTS_KEPT_PER_INSTANCE = 500
/** The longest a JSON read may wait for its first event. */
export const MAX_EVENTS_WAIT_MS = 60_000
/** How long a deleted instance's events stay for followers on other replicas to read. */
const DELETED_GRACE_MS = 2_000

/** How the event log finds an actor's instance (404 when it is not theirs). */
export interface InstanceLookup {
  owned(actor: Actor, id: string): Promise<{ id: string }>
}

type Listener = (e: LifecycleEvent) => void

export class EventService implements EventSource {
  private readonly lock = new KeyedLock()
  private readonly tails: LiveTails<LifecycleEvent>

  constructor(
    private readonly store: Store,
    private readonly instances: InstanceLookup,
    readonly webhooks: WebhookService,
    private readonly log: Logger,
    bus: EventBus = new MemoryBus(),
    private readonly keep = EVENTS_KEPT_PER_INSTANCE,
  ) {
    // Cursors come from one sequence for every instance: local events are read back too.
    this.tails = new LiveTails(
      { after: (id, cursor, limit) => this.list(id, cursor, limit), last: (id) => this.lastCursor(id) },
      bus,
      { channel: 'instance_event', dense: false, log },
    )
  }

  /** Stores an event, delivers it to followers (on every replica) and queues it for the owner's webhooks. */
  record(
    instanceId: string,
    type: LifecycleEventType,
    detail: EventDetail = {},
  ): Promise<LifecycleEvent | undefined> {
    return this.lock
      .run(instanceId, async () => {
        const userId = detail.userId ?? (await this.store.instances.get(instanceId))?.user_id
        if (!userId) return undefined
        const row = await this.store.events.append(
          {
            instance_id: instanceId,
            user_id: userId,
            type,
            reason: detail.reason ?? null,
            data: detail.data ?? {},
            created_at: nowIso(),
          },
          this.keep,
        )
        const event = fromRow(row)
        // Delivered here before a `deleted` takes the instance's history with it.
        await this.tails.appended(instanceId, event)
        await this.webhooks.enqueue(userId, event)
        // A deleted instance's history goes with it, once its last event is handed on (other
        // replicas' followers read it from the store on their wake-up: they get a moment).
        if (type === 'deleted') {
          if (this.store.dialect === 'postgres') await new Promise((r) => setTimeout(r, DELETED_GRACE_MS))
          await this.store.events.removeInstance(instanceId)
        }
        this.log.debug({ instanceId, type, reason: event.reason }, 'instance event')
        return event
      })
      .catch((err: unknown) => {
        this.log.error({ err, instanceId, type }, 'instance event not recorded')
        return undefined
      })
  }

  async list(instanceId: string, after: number, limit: number): Promise<LifecycleEvent[]> {
    return (await this.store.events.list(instanceId, after, limit)).map(fromRow)
  }

  subscribe(instanceId: string, fn: Listener): () => void {
    return this.tails.subscribe(instanceId, fn)
  }

  ready(instanceId: string): Promise<void> {
    return this.tails.ready(instanceId)
  }

  /** Stops hearing the bus. */
  close(): void {
    this.tails.close()
  }

  /** The instance's highest cursor; it keeps `keep` events at most, so this is one short read. */
  private async lastCursor(instanceId: string): Promise<number> {
    let last = 0
    for (;;) {
      const page = await this.store.events.list(instanceId, last, this.keep)
      last = page.at(-1)?.cursor ?? last
      if (page.length < this.keep) return last
    }
  }

  /** The actor's instance's events after a cursor; with wait_ms, waits that long for the first. */
  async read(
    actor: Actor,
    id: string,
    q: { after: number; limit: number; wait_ms?: number },
  ): Promise<LifecycleEvent[]> {
    const { id: instanceId } = await this.instances.owned(actor, id)
    const waitMs = Math.min(q.wait_ms ?? 0, MAX_EVENTS_WAIT_MS)
    if (waitMs <= 0) return this.list(instanceId, q.after, q.limit)
    // Heard from before the first read on, so an event between the two still wakes the wait.
    let unsubscribe = () => {}
    const heard = new Promise<void>((resolve) => {
      unsubscribe = this.subscribe(instanceId, () => resolve())
    })
    let timer: NodeJS.Timeout | undefined
    try {
      await this.ready(instanceId)
      const first = await this.list(instanceId, q.after, q.limit)
      if (first.length) return first
      await Promise.race([heard, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))])
    } finally {
      unsubscribe()
      clearTimeout(timer)
    }
    return this.list(instanceId, q.after, q.limit)
  }

  /** Follows the actor's instance's events after a cursor (persisted, then live). */
  async follow(actor: Actor, id: string, after: number): Promise<EventFollower> {
    const { id: instanceId } = await this.instances.owned(actor, id)
    return new EventFollower(this, instanceId, after)
  }
}

function fromRow(row: InstanceEventRow): LifecycleEvent {
  return {
    cursor: row.cursor,
    instance_id: row.instance_id,
    type: row.type as LifecycleEventType,
    reason: row.reason,
    data: row.data,
    created_at: row.created_at,
  }
}
