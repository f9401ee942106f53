import { CursorFollower } from '../shared/follower.js'
import type { LifecycleEvent } from './types.js'

/** Live events held for a slow reader before it falls back to reading the store. */
const MAX_QUEUE = 500

/** Where a follower reads persisted events and hears live ones. */
export interface EventSource {
  list(instanceId: string, after: number, limit: number): Promise<LifecycleEvent[]>
  subscribe(instanceId: string, fn: (e: LifecycleEvent) => void): () => void
  /** Resolves once live events follow on from what `list` returns from now. */
  ready?(instanceId: string): Promise<void>
}

/**
 * Follows an instance's lifecycle events from a cursor: the persisted ones first, then live ones,
 * whichever replica recorded them, with no gap and no duplicate (see CursorFollower). Iterate
 * once; `close()` ends the iteration (idempotent).
 */
export class EventFollower extends CursorFollower<LifecycleEvent> {
  constructor(source: EventSource, instanceId: string, after: number) {
    super(
      {
        list: (from, limit) => source.list(instanceId, from, limit),
        subscribe: (fn) => source.subscribe(instanceId, fn),
        ready: source.ready ? () => source.ready?.(instanceId) ?? Promise.resolve() : undefined,
      },
      { after, maxQueue: MAX_QUEUE },
    )
  }
}
