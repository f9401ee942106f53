import { type ChatMessage, get, qs } from '../../../api'
import { turnErrorMessage } from '../../../errors'

/** GET .../chat/events as JSON, the parts read here. */
interface StoredEvent {
  type: string
  data: { message?: ChatMessage | string; partial?: ChatMessage; code?: string }
}

/** How far back (in event cursors) the history looks for how its unanswered turns ended. */
const LOOKBACK = 1000

/** The user messages whose turn has no assistant message in `history`. */
function unanswered(history: ChatMessage[]): ChatMessage[] {
  const out: ChatMessage[] = []
  history.forEach((m, i) => {
    if (m.role !== 'user') return
    const next = history.findIndex((x, j) => j > i && x.role === 'user')
    const turn = history.slice(i + 1, next < 0 ? undefined : next)
    if (!turn.some((x) => x.role === 'assistant')) out.push(m)
  })
  return out
}

/**
 * Entries for turns that ended with no assistant message (stopped, or failed, before any text):
 * the message history has only the user's message for them, and the event log says how they
 * ended (an `error` event without `partial`). Returns them, and the user messages whose turn ended.
 */
export async function turnEndings(
  base: string,
  sessionId: string,
  cursor: number,
  history: ChatMessage[],
): Promise<{ entries: ChatMessage[]; ended: Set<string> }> {
  const open = unanswered(history)
  const entries: ChatMessage[] = []
  const ended = new Set<string>()
  if (!open.length) return { entries, ended }
  const events = await get<StoredEvent[]>(
    `${base}/events${qs({ session_id: sessionId, after: Math.max(0, cursor - LOOKBACK), limit: LOOKBACK })}`,
  )
  // The user message of the turn each event belongs to: a turn's events follow its `message`.
  let turnOf: string | undefined
  const codes = new Map<string, { code?: string; message?: string }>()
  for (const e of events) {
    const m = e.data.message
    if (e.type === 'message' && typeof m === 'object' && m.role === 'user') turnOf = m.id
    else if (e.type === 'done' || e.type === 'error') {
      if (turnOf && e.type === 'error' && !e.data.partial)
        codes.set(turnOf, { code: e.data.code, message: typeof m === 'string' ? m : undefined })
      if (turnOf) ended.add(turnOf)
      turnOf = undefined
    }
  }
  for (const u of open) {
    const end = codes.get(u.id)
    if (!end) continue
    const i = history.indexOf(u)
    const next = history.findIndex((x, j) => j > i && x.role === 'user')
    const last = history[(next < 0 ? history.length : next) - 1] ?? u
    const stopped = end.code === 'aborted'
    entries.push({
      id: `ended-${u.id}`,
      session_id: sessionId,
      seq: last.seq + 0.5,
      role: 'assistant',
      content: stopped ? '' : turnErrorMessage(end.code, end.message),
      status: stopped ? 'aborted' : 'error',
      created_at: u.created_at,
      updated_at: u.created_at,
    })
  }
  return { entries, ended }
}
