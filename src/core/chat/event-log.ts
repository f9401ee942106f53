import type { Store } from '../../store/index.js'
import { KeyedLock } from '../keyed-lock.js'
import { type EventBus, MemoryBus } from '../shared/bus.js'
import { LiveTails } from '../shared/live-tail.js'
import { nowIso } from '../time.js'
import { type ChatEvent, eventFromRow } from './types.js'

type Listener = (e: ChatEvent) => void

/**
 * The durable chat event log and its live fan-out. Each event is written to the store before it
 * is delivered or announced on the bus, so anything a listener sees can be read back, and
 * listeners see every event of the instance in cursor order, whichever replica appended it.
 * Appends of one instance here are serialised, so this replica's own usually go out at once.
 */
export class ChatEventLog {
  private readonly lock = new KeyedLock()
  private readonly tails: LiveTails<ChatEvent>

  constructor(
    private readonly store: Store,
    bus: EventBus = new MemoryBus(),
  ) {
    this.tails = new LiveTails(
      {
        after: (id, cursor, limit) => this.list(id, cursor, undefined, limit),
        last: (id) => store.chat.lastCursor(id),
      },
      bus,
      // An instance's chat cursors are consecutive (numbered under its lock).
      { channel: 'chat_event', dense: true },
    )
  }

  /** Persists an event with the instance's next cursor, then delivers and announces it. */
  append(
    instanceId: string,
    sessionId: string,
    type: string,
    data: Record<string, unknown>,
  ): Promise<ChatEvent> {
    return this.lock.run(instanceId, async () => {
      const row = await this.store.chat.appendEvent({
        instance_id: instanceId,
        session_id: sessionId,
        type,
        data,
        created_at: nowIso(),
      })
      const event = eventFromRow(row)
      void this.tails.appended(instanceId, event)
      return event
    })
  }

  /** Persisted events after a cursor, oldest first. */
  async list(
    instanceId: string,
    after: number,
    sessionId: string | undefined,
    limit: number,
  ): Promise<ChatEvent[]> {
    const rows = await this.store.chat.listEvents(instanceId, { after, sessionId, limit })
    return rows.map(eventFromRow)
  }

  /** Calls fn with every event of the instance stored from `ready(instanceId)` on; returns the unsubscribe. */
  subscribe(instanceId: string, fn: Listener): () => void {
    return this.tails.subscribe(instanceId, fn)
  }

  /** Resolves once live events follow on from what a store read returns from now (see LiveTails). */
  ready(instanceId: string): Promise<void> {
    return this.tails.ready(instanceId)
  }

  /** How many listeners follow the instance (for tests and status). */
  listenerCount(instanceId: string): number {
    return this.tails.listenerCount(instanceId)
  }

  /** Stops hearing the bus. */
  close(): void {
    this.tails.close()
  }
}
