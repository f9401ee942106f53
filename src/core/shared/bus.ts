/**
 * Wake-ups between replicas. A message names a channel and an id (an instance, a run, a
 * session); it never carries the data: subscribers read the store, which stays the source of
 * truth, so a lost wake-up costs latency, never an event. Publish after the write commits.
 */
export interface EventBus {
  /** Wakes every replica's subscribers of `channel` (this one's included) with `id`. */
  publish(channel: BusChannel, id: string): Promise<void>
  /**
   * Calls fn with every id published on `channel` from now on, and with `'*'` when wake-ups may
   * have been lost (the bus reconnected): subscribers then re-read what they follow.
   */
  subscribe(channel: BusChannel, fn: (id: string) => void): () => void
  close(): Promise<void>
}

/** The channels replicas wake each other on. */
export type BusChannel =
  /** A chat event was appended to an instance's log (id: instance). */
  | 'chat_event'
  /** An instance's status changed (id: instance). */
  | 'instance_status'
  /** A lifecycle event was recorded (id: instance). */
  | 'instance_event'
  /** Relays of an instance must close: it is stopping or sleeping (id: instance). */
  | 'relay_close'
  /** An inbox message was stored or changed: queued, delivered, replied, failed (id: message). */
  | 'inbox'
  /** A pipeline run moved (id: run). */
  | 'pipeline_run'
  /** Abort the running turn of a session (id: `instance/session`, or `instance` for all). */
  | 'turn_abort'
  /** A job was queued for a runner (id: runner). */
  | 'runner_job'
  /** A runner finished a job (id: job). */
  | 'runner_job_done'

/** Who listens on which channel, shared by the buses; a subscriber that throws stops no other. */
export class Subscribers {
  private readonly subs = new Map<BusChannel, Set<(id: string) => void>>()

  add(channel: BusChannel, fn: (id: string) => void): () => void {
    let set = this.subs.get(channel)
    if (!set) {
      set = new Set()
      this.subs.set(channel, set)
    }
    set.add(fn)
    return () => {
      set.delete(fn)
    }
  }

  /** Calls every subscriber of `channel` with `id`, in order; `onError` hears of one that threw. */
  call(channel: BusChannel, id: string, onError?: (err: unknown) => void): void {
    for (const fn of [...(this.subs.get(channel) ?? [])]) {
      try {
        fn(id)
      } catch (err) {
        onError?.(err)
      }
    }
  }

  /** Calls every subscriber of every channel with `'*'`: wake-ups may have been lost. */
  callAll(onError?: (channel: BusChannel, err: unknown) => void): void {
    for (const channel of [...this.subs.keys()]) this.call(channel, '*', (err) => onError?.(channel, err))
  }

  clear(): void {
    this.subs.clear()
  }
}

/** The bus of one process (SQLite, a single server): subscribers are called in order. */
export class MemoryBus implements EventBus {
  private readonly subs = new Subscribers()

  async publish(channel: BusChannel, id: string): Promise<void> {
    this.subs.call(channel, id)
  }

  subscribe(channel: BusChannel, fn: (id: string) => void): () => void {
    return this.subs.add(channel, fn)
  }

  async close(): Promise<void> {
    this.subs.clear()
  }
}
