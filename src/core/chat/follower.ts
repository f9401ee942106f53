import { CursorFollower } from '../shared/follower.js'
import type { ChatEventLog } from './event-log.js'
import type { ChatEvent } from './types.js'

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
 * Follows an instance's chat events (or one session's) from a cursor: the persisted ones first,
 * then live ones, whichever replica appended them, with no gap and no duplicate (see
 * CursorFollower). Iterate it once; `close()` ends the iteration (idempotent).
 */
export class ChatFollower extends CursorFollower<ChatEvent> {
  constructor(log: ChatEventLog, opts: FollowOptions) {
    const { instanceId, sessionId } = opts
    super(
      {
        list: (after, limit) => log.list(instanceId, after, sessionId, limit),
        subscribe: (fn) => log.subscribe(instanceId, fn),
        ready: () => log.ready(instanceId),
      },
      {
        after: opts.after,
        maxQueue: opts.maxQueue ?? DEFAULT_MAX_QUEUE,
        accept: sessionId ? (e) => e.session_id === sessionId : undefined,
        until: opts.until,
      },
    )
  }
}
