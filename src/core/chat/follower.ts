import type { ChatEventLog } from './event-log.js'
import type { ChatEvent } from './types.js'

/** Events read from the store per page when catching up. */
const PAGE = 200
/** Live events held for a slow reader before it falls back to reading the store. */
export const DEFAULT_MAX_QUEUE = 1000

export interface FollowOptions {
  instanceId: string
  /** Deliver events with a cursor above this one. */
  after: number
  sessionId?: string
  /** Stop after delivering the first event for which this is true. */
  until?: (e: ChatEvent) => boolean
  maxQueue?: number
}

/**
 * Follows an instance's chat events from a cursor: the persisted ones first, then live ones,
 * with no gap and no duplicate. It subscribes before reading the store and drops anything at or
 * below the last cursor it delivered. A reader that falls more than `maxQueue` live events behind
 * loses its queue and catches up from the store instead, so memory stays bounded and nothing is
 * lost. Iterate it once; `close()` ends the iteration (idempotent).
 */
export class ChatFollower implements AsyncIterable<ChatEvent> {
  private pending: ChatEvent[] = []
  private stale = false
  private closed = false
  private wake?: () => void
  private readonly unsubscribe: () => void
  private last: number
  private readonly maxQueue: number

  constructor(
    private readonly log: ChatEventLog,
    private readonly opts: FollowOptions,
  ) {
    this.last = opts.after
    this.maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE
    this.unsubscribe = log.subscribe(opts.instanceId, (e) => this.onLive(e))
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

  private onLive(e: ChatEvent): void {
    if (this.closed || (this.opts.sessionId && e.session_id !== this.opts.sessionId)) return
    if (this.pending.length >= this.maxQueue) {
      // Everything published is already in the store: read it from there when the reader is back.
      this.pending = []
      this.stale = true
    } else {
      this.pending.push(e)
    }
    this.wake?.()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChatEvent> {
    try {
      let catchUp = true
      while (!this.closed) {
        if (catchUp || this.stale) {
          catchUp = false
          this.stale = false
          for (;;) {
            const page = await this.log.list(this.opts.instanceId, this.last, this.opts.sessionId, PAGE)
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
