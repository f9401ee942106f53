/** Events read from the store per page when catching up. */
const PAGE = 200

/** Where a follower reads persisted events and hears live ones, for one instance. */
export interface FollowSource<E> {
  /** Persisted events after a cursor, oldest first. */
  list(after: number, limit: number): Promise<E[]>
  /** Calls fn with every live event from now on; returns the unsubscribe. */
  subscribe(fn: (e: E) => void): () => void
  /** Resolves once what `subscribe` delivers follows on from what `list` reads from now. */
  ready?(): Promise<void>
}

export interface CursorFollowOptions<E> {
  /** Deliver events with a cursor above this one. */
  after: number
  /** Live events held for a slow reader before it falls back to reading the store. */
  maxQueue: number
  /** Only these events are delivered (the store read is expected to filter the same way). */
  accept?: (e: E) => boolean
  /** Stop after delivering the first event for which this is true. */
  until?: (e: E) => boolean
}

/**
 * Follows events from a cursor: the persisted ones first, then live ones, with no gap and no
 * duplicate. It subscribes before reading the store and drops anything at or below the last
 * cursor it delivered. A reader that falls more than `maxQueue` live events behind loses its
 * queue and catches up from the store instead, so memory stays bounded and nothing is lost.
 * Iterate it once; `close()` ends the iteration (idempotent).
 */
export class CursorFollower<E extends { cursor: number }> implements AsyncIterable<E> {
  private pending: E[] = []
  private stale = false
  private closed = false
  private wake?: () => void
  private readonly unsubscribe: () => void
  private last: number

  constructor(
    private readonly source: FollowSource<E>,
    private readonly opts: CursorFollowOptions<E>,
  ) {
    this.last = opts.after
    this.unsubscribe = source.subscribe((e) => this.onLive(e))
  }

  /** The cursor of the last event delivered. */
  get cursor(): number {
    return this.last
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.unsubscribe()
    this.pending = []
    this.wake?.()
  }

  private onLive(e: E): void {
    if (this.closed || (this.opts.accept && !this.opts.accept(e))) return
    if (this.pending.length >= this.opts.maxQueue) {
      // Everything delivered live is already in the store: read it from there when the reader is back.
      this.pending = []
      this.stale = true
    } else {
      this.pending.push(e)
    }
    this.wake?.()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<E> {
    try {
      await this.source.ready?.()
      let catchUp = true
      while (!this.closed) {
        if (catchUp || this.stale) {
          catchUp = false
          this.stale = false
          for (;;) {
            const page = await this.source.list(this.last, PAGE)
            for (const e of page) {
              if (this.closed) return
              if (e.cursor <= this.last) continue
              this.last = e.cursor
              yield e
              if (this.opts.until?.(e)) return
            }
            if (page.length < PAGE) break
          }
          continue
        }
        const e = this.pending.shift()
        if (e) {
          if (e.cursor <= this.last) continue
          this.last = e.cursor
          yield e
          if (this.opts.until?.(e)) return
          continue
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve
        })
        this.wake = undefined
      }
    } finally {
      this.close()
    }
  }
}
