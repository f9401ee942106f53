import type { LifecycleEvent } from './types.js'

/** Events read from the store per page when catching up. */
const PAGE = 200
/** Live events held for a slow reader before it falls back to reading the store. */
const MAX_QUEUE = 500

/** Where a follower reads persisted events and hears live ones. */
export interface EventSource {
  list(instanceId: string, after: number, limit: number): Promise<LifecycleEvent[]>
  subscribe(instanceId: string, fn: (e: LifecycleEvent) => void): () => void
}

/**
 * Follows an instance's lifecycle events from a cursor: the persisted ones first, then live ones,
 * with no gap and no duplicate (it subscribes before reading the store and drops anything at or
 * below the last cursor delivered). A reader too far behind loses its queue and reads the store
 * again, so memory stays bounded. Iterate once; `close()` ends the iteration (idempotent).
 */
export class EventFollower implements AsyncIterable<LifecycleEvent> {
  private pending: LifecycleEvent[] = []
  private stale = false
  private closed = false
  private wake?: () => void
  private readonly unsubscribe: () => void
  private last: number

  constructor(
    private readonly source: EventSource,
    private readonly instanceId: string,
    after: number,
  ) {
    this.last = after
    this.unsubscribe = source.subscribe(instanceId, (e) => this.onLive(e))
  }

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

  private onLive(e: LifecycleEvent): void {
    if (this.closed) return
    if (this.pending.length >= MAX_QUEUE) {
      this.pending = []
      this.stale = true
    } else this.pending.push(e)
    this.wake?.()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<LifecycleEvent> {
    try {
      let catchUp = true
      while (!this.closed) {
        if (catchUp || this.stale) {
          catchUp = false
          this.stale = false
          for (;;) {
            const page = await this.source.list(this.instanceId, this.last, PAGE)
            for (const e of page) {
              if (this.closed) return
              if (e.cursor <= this.last) continue
              this.last = e.cursor
              yield e
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
