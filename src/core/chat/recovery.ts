import { randomUUID } from 'node:crypto'
import type { Logger } from '../../log.js'
import type { Store } from '../../store/index.js'
import { nowIso } from '../time.js'
import type { ChatEventLog } from './event-log.js'
import { messageFromRow } from './types.js'

const PAGE = 500

/** The code of the `error` that closes a turn a previous process left running. */
export const SERVER_RESTARTED = 'server_restarted'

/**
 * Closes every turn a killed server left open: its deltas so far become the assistant message
 * (status `error`), tool calls still running are marked failed, and an `error` event with code
 * `server_restarted` ends the turn, so a follower resuming from its cursor sees it end. Run once
 * at start, before any new turn can begin. Returns how many turns it closed.
 */
export async function closeInterruptedTurns(
  store: Store,
  events: ChatEventLog,
  log: Logger,
): Promise<number> {
  const open = await store.chat.unfinishedTurns()
  for (const turn of open) {
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
    log.warn({ instanceId: turn.instance_id, sessionId: turn.session_id }, 'interrupted turn closed')
  }
  return open.length
}
