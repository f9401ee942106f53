import type { Logger } from '../../log.js'
import type { BusChannel, EventBus } from './bus.js'

/** Events read from the store per page when a tail catches up. */
const PAGE = 200
/** A tail whose store read failed tries again after this long (or at the next wake-up). */
const RETRY_MS = 1_000

/** Where a tail reads an instance's persisted events. */
export interface TailSource<E> {
  /** Events of the instance after a cursor, oldest first. */
  after(instanceId: string, cursor: number, limit: number): Promise<E[]>
  /** The instance's highest cursor (0 when it has none). */
  last(instanceId: string): Promise<number>
}

export interface LiveTailOptions {
  /** The bus channel appends are announced on (id: the instance). */
  channel: BusChannel
  /**
   * Cursors of one instance are consecutive (1, 2, 3...): a local append right after the last
   * delivered one can be handed on without reading the store. Otherwise (cursors from a sequence
   * shared by every instance) local appends are read back like anyone else's.
   */
  dense: boolean
  log?: Logger
}

type Listener<E> = (e: E) => void

interface Tail<E> {
  readonly instanceId: string
  readonly listeners: Set<Listener<E>>
  /** The cursor of the last event delivered; undefined until the store told where it starts. */
  last?: number
  /** Wake-ups of this replica's own appends still to come back from the bus. */
  echoes: number
  /** A read is in progress (`reading`); `again` makes it read once more before it ends. */
  busy: boolean
  reading?: Promise<void>
  again: boolean
  ready: Promise<void>
  markReady: () => void
  retry?: NodeJS.Timeout
  closed: boolean
}

/**
 * The live events of the instances this replica follows, whichever replica appended them. Each
 * followed instance has a tail holding the last cursor delivered; it reads the store after it
 * when a wake-up comes (an append anywhere, `'*'` after the bus lost some) or when a local append
 * does not follow on from it, and delivers in cursor order, never skipping, never twice. The
 * store commits an instance's events in cursor order, so "after the last cursor" misses nothing.
 */
export class LiveTails<E extends { cursor: number }> {
  private readonly tails = new Map<string, Tail<E>>()
  private readonly unsubscribe: () => void

  constructor(
    private readonly source: TailSource<E>,
    private readonly bus: EventBus,
    private readonly opts: LiveTailOptions,
  ) {
    this.unsubscribe = bus.subscribe(opts.channel, (id) => this.onWake(id))
  }

  /**
   * Calls fn with every event of the instance stored after `ready(instanceId)` resolves (and
   * maybe some before); returns the unsubscribe. Followers read the store after `ready`.
   */
  subscribe(instanceId: string, fn: Listener<E>): () => void {
    let tail = this.tails.get(instanceId)
    if (!tail) {
      tail = this.open(instanceId)
      this.tails.set(instanceId, tail)
    }
    tail.listeners.add(fn)
    const t = tail
    return () => {
      t.listeners.delete(fn)
      if (t.listeners.size === 0 && this.tails.get(instanceId) === t) {
        this.tails.delete(instanceId)
        this.shut(t)
      }
    }
  }

  /**
   * Resolves once the instance's tail knows where it starts: a follower that reads the store
   * after this misses nothing between its read and the live events.
   */
  ready(instanceId: string): Promise<void> {
    return this.tails.get(instanceId)?.ready ?? Promise.resolve()
  }

  listenerCount(instanceId: string): number {
    return this.tails.get(instanceId)?.listeners.size ?? 0
  }

  /**
   * An event this replica has just stored: delivered here (at once when it follows on from the
   * last one, through the store otherwise), then announced to the other replicas. Resolves once
   * the local listeners have it; the announcement is not waited for.
   */
  appended(instanceId: string, e: E): Promise<void> {
    const tail = this.tails.get(instanceId)
    let delivered: Promise<void> | undefined
    if (tail) {
      if (this.opts.dense && tail.last !== undefined && e.cursor === tail.last + 1) this.deliver(tail, e)
      else if (tail.last === undefined || e.cursor > tail.last) delivered = this.pull(tail)
      tail.echoes++
    }
    // The store is the truth: a lost announcement only delays other replicas until the next one.
    this.bus.publish(this.opts.channel, instanceId).catch(() => {
      if (tail && tail.echoes > 0) tail.echoes--
    })
    return delivered ?? Promise.resolve()
  }

  close(): void {
    this.unsubscribe()
    for (const t of this.tails.values()) this.shut(t)
    this.tails.clear()
  }

  private open(instanceId: string): Tail<E> {
    let markReady = () => {}
    const ready = new Promise<void>((r) => {
      markReady = r
    })
    const tail: Tail<E> = {
      instanceId,
      listeners: new Set(),
      echoes: 0,
      busy: false,
      again: false,
      ready,
      markReady,
      closed: false,
    }
    void this.pull(tail)
    return tail
  }

  private shut(t: Tail<E>): void {
    t.closed = true
    clearTimeout(t.retry)
    t.markReady()
  }

  private onWake(id: string): void {
    if (id === '*') {
      for (const t of this.tails.values()) {
        t.echoes = 0
        void this.pull(t)
      }
      return
    }
    const t = this.tails.get(id)
    if (!t) return
    // Our own append, already delivered. Counting may take another replica's wake-up for ours:
    // ours then comes later and reads in its place, so that costs a moment, never an event.
    if (t.echoes > 0) {
      t.echoes--
      return
    }
    void this.pull(t)
  }

  /** Reads the store after the tail's last cursor; resolves after a read that began after the call. */
  private pull(t: Tail<E>): Promise<void> {
    if (t.closed) return Promise.resolve()
    if (t.busy && t.reading) {
      t.again = true
      return t.reading
    }
    clearTimeout(t.retry)
    t.busy = true
    t.reading = this.read(t)
    return t.reading
  }

  private async read(t: Tail<E>): Promise<void> {
    try {
      do {
        t.again = false
        if (t.last === undefined) {
          t.last = await this.source.last(t.instanceId)
          t.markReady()
        }
        for (;;) {
          if (t.closed) return
          const page = await this.source.after(t.instanceId, t.last, PAGE)
          for (const e of page) this.deliver(t, e)
          if (page.length < PAGE) break
        }
      } while (t.again && !t.closed)
    } catch (err) {
      if (t.closed) return
      this.opts.log?.warn({ err, instanceId: t.instanceId }, 'live events not read, retrying')
      t.retry = setTimeout(() => void this.pull(t), RETRY_MS)
      t.retry.unref()
    } finally {
      // In the same tick as the last look at `again`: a pull asked for after it starts a new read.
      t.busy = false
    }
  }

  private deliver(t: Tail<E>, e: E): void {
    if (t.closed || t.last === undefined || e.cursor <= t.last) return
    t.last = e.cursor
    for (const fn of [...t.listeners]) {
      try {
        fn(e)
      } catch {
        // One broken listener must not stop the others or the append.
      }
    }
  }
}
