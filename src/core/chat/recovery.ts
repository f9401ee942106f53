import { randomUUID } from 'node:crypto'
import type { Logger } from '../../log.js'
import type { Store } from '../../store/index.js'
import { nowIso } from '../time.js'
import type { ChatEventLog } from './event-log.js'
import { messageFromRow } from './types.js'

const PAGE = 500

/** The code of the `error` that closes a turn a previous process left running. */
export const SERVER_RESTARTED = 'server_restarted'

/** How often the replica running a turn says it is alive. */
export const TURN_HEARTBEAT_MS = 5_000
/** A turn whose owner missed this many heartbeats is a dead owner's. */
export const TURN_STALE_MS = 3 * TURN_HEARTBEAT_MS

/** Heartbeats older than this are a dead owner's. */
export function staleBefore(nowMs = Date.now()): string {
  return new Date(nowMs - TURN_STALE_MS).toISOString()
}

/** Later than every heartbeat: every owner counts as gone (one process, at its own start). */
const EVERY_OWNER_GONE = '9999-12-31T23:59:59.999Z'

export interface RecoveryDeps {
  store: Store
  events: ChatEventLog
  log: Logger
  /** The replica closing turns: it holds each one's row while it closes it. */
  owner: string
}

/**
 * Closes one turn in the event log: its deltas so far become the assistant message (status
 * `error`), tool calls still running are marked failed, and an `error` event with code
 * `server_restarted` ends it, so a follower resuming from its cursor sees it end. The caller
 * holds the session's turn row.
 */
export async function closeTurn(
  store: Store,
  events: ChatEventLog,
  turn: { instance_id: string; session_id: string; cursor: number },
): Promise<void> {
  let text = ''
  const runningTools = new Set<string>()
  let after = turn.cursor
  for (;;) {
    const page = await events.list(turn.instance_id, after, turn.session_id, PAGE)
    for (const e of page) {
      after = e.cursor
      if (e.type === 'delta' && typeof e.data.text === 'string') text += e.data.text
      const toolId = typeof e.data.message_id === 'string' ? e.data.message_id : undefined
      if (e.type === 'tool' && toolId) {
        if (e.data.status === 'started') runningTools.add(toolId)
        else runningTools.delete(toolId)
      }
    }
    if (page.length < PAGE) break
  }
  const at = nowIso()
  for (const id of runningTools) await store.chat.updateMessage(id, { status: 'error', updated_at: at })
  const partial = text
    ? messageFromRow(
        await store.chat.appendMessage({
          id: randomUUID(),
          session_id: turn.session_id,
          instance_id: turn.instance_id,
          role: 'assistant',
          content: text,
          tool: null,
          status: 'error',
          created_at: at,
          updated_at: at,
        }),
      )
    : undefined
  await store.chat.updateSession(turn.session_id, { last_activity: at, updated_at: at })
  await events.append(turn.instance_id, turn.session_id, 'error', {
    message: 'The server restarted during the turn; its text so far is kept.',
    code: SERVER_RESTARTED,
    ...(partial ? { partial } : {}),
  })
}

/**
 * Closes the session's open turn unless a live owner runs it. The closer first takes the
 * turn's row (absent, or stale: its owner is gone), so of several replicas exactly one closes a
 * turn, and no new turn starts on the session until it is closed. True when it closed one.
 */
export async function closeDeadTurn(
  deps: RecoveryDeps,
  turn: { instance_id: string; session_id: string },
  stale: string,
): Promise<boolean> {
  const { store, owner } = deps
  const claim = { instance_id: turn.instance_id, session_id: turn.session_id, owner, now: nowIso() }
  if (!(await store.turns.claim(claim, stale))) return false
  try {
    // Read again under the claim: the owner may have ended the turn since it was listed.
    const cursor = await store.turns.openTurn(turn.session_id)
    if (cursor === undefined) return false
    await closeTurn(store, deps.events, { ...turn, cursor })
    deps.log.warn({ instanceId: turn.instance_id, sessionId: turn.session_id }, 'interrupted turn closed')
    return true
  } finally {
    await store.turns.release(turn.session_id, owner)
  }
}

/**
 * Closes the turns whose owner's heartbeat is older than `stale` (killed replicas), but those
 * of the sessions in `except`; how many.
 */
export async function closeStaleTurns(
  deps: RecoveryDeps,
  stale = staleBefore(),
  except: ReadonlySet<string> = new Set(),
): Promise<number> {
  let closed = 0
  for (const row of await deps.store.turns.stale(stale))
    if (!except.has(row.session_id) && (await closeDeadTurn(deps, row, stale))) closed++
  return closed
}

/**
 * Run once at start, before this process starts any turn: closes every turn a killed server
 * left open, and only those. A turn with no row predates the turns table, or its row is gone
 * with its owner; one with a row is closed when its heartbeat is older than `stale`. Without
 * `stale` (one process: SQLite) every owner is gone. Returns how many turns it closed.
 */
export async function closeInterruptedTurns(
  store: Store,
  events: ChatEventLog,
  log: Logger,
  opts: { owner?: string; stale?: string } = {},
): Promise<number> {
  const deps: RecoveryDeps = { store, events, log, owner: opts.owner ?? `recovery-${randomUUID()}` }
  const stale = opts.stale ?? EVERY_OWNER_GONE
  let closed = 0
  for (const turn of await store.chat.unfinishedTurns()) if (await closeDeadTurn(deps, turn, stale)) closed++
  // Rows of dead owners whose turn had already ended (killed between its end and its release).
  return closed + (await closeStaleTurns(deps, stale))
}
