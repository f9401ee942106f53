import type { Store } from '../../store/index.js'
import { KeyedLock } from '../keyed-lock.js'
import { nowIso } from '../time.js'
import { type ChatEvent, eventFromRow } from './types.js'

type Listener = (e: ChatEvent) => void

/**
 * The durable chat event log and its live fan-out. Appends of one instance are serialised, and
 * each event is written to the store before it is published, so listeners see every event in
 * cursor order and anything they see can also be read back from the store.
 */
export class ChatEventLog {
  private readonly listeners = new Map<string, Set<Listener>>()
  private readonly lock = new KeyedLock()

  constructor(private readonly store: Store) {}

  /** Persists an event with the instance's next cursor, then publishes it. */
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
        data: JSON.stringify(data),
        created_at: nowIso(),
      })
      const event = eventFromRow(row)
      for (const fn of this.listeners.get(instanceId) ?? []) {
        try {
          fn(event)
        } catch {
          // One broken listener must not stop the others or the turn.
        }
      }
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

  /** Calls fn with every event published for the instance from now on; returns the unsubscribe. */
  subscribe(instanceId: string, fn: Listener): () => void {
    let set = this.listeners.get(instanceId)
    if (!set) {
      set = new Set()
      this.listeners.set(instanceId, set)
    }
    set.add(fn)
    return () => {
      const s = this.listeners.get(instanceId)
      if (!s) return
      s.delete(fn)
      if (s.size === 0) this.listeners.delete(instanceId)
    }
  }

  /** How many listeners follow the instance (for tests and status). */
  listenerCount(instanceId: string): number {
    return this.listeners.get(instanceId)?.size ?? 0
  }
}
