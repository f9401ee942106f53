import { useCallback, useEffect, useRef, useState } from 'react'
import { apiHeaders, type ChatMessage, errorOf, get, post, qs } from '../../../api'
import { turnErrorMessage } from '../../../errors'
import { turnEndings } from './endings'
import { readSse } from './sse'

const PAGE = 50

interface EventData {
  message?: ChatMessage | string
  partial?: ChatMessage
  text?: string
  code?: string
  name?: string
  status?: string
  arguments?: unknown
  result?: unknown
  call_id?: string
  message_id?: string
  session_id?: string
}

export interface ChatState {
  messages: ChatMessage[]
  /** Text of the assistant's reply as it streams in, until the turn is done. */
  streaming: string | null
  running: boolean
  live: 'connecting' | 'live' | 'reconnecting'
  error?: string
  hasEarlier: boolean
}

/** A stopped turn that left no text: a local entry so the history still shows where it stopped. */
function stoppedMarker(sessionId: string, lastSeq: number, cursor: number | undefined): ChatMessage {
  const at = new Date().toISOString()
  return {
    id: `stopped-${cursor ?? at}`,
    session_id: sessionId,
    seq: lastSeq + 0.5,
    role: 'assistant',
    content: '',
    status: 'aborted',
    created_at: at,
    updated_at: at,
  }
}

function upsert(list: ChatMessage[], m: ChatMessage): ChatMessage[] {
  const i = list.findIndex((x) => x.id === m.id)
  const next = i >= 0 ? list.map((x, j) => (j === i ? { ...m, seq: m.seq ?? x.seq } : x)) : [...list, m]
  return next.sort((a, b) => a.seq - b.seq)
}

/**
 * One chat session: history loaded with `tail`, then every event after the cursor followed
 * live (EventSource reconnects with Last-Event-ID, so nothing is lost across drops). Events of
 * this page's own turns arrive twice (the send stream and the follower): their cursors dedupe.
 */
export function useChat(instanceId: string, sessionId: string | undefined, onTurnEnd: () => void) {
  const [state, setState] = useState<ChatState>({
    messages: [],
    streaming: null,
    running: false,
    live: 'connecting',
    hasEarlier: false,
  })
  const seen = useRef(new Set<number>())
  const base = `/api/instances/${instanceId}/chat`
  const onEndRef = useRef(onTurnEnd)
  onEndRef.current = onTurnEnd

  const apply = useCallback(
    (type: string, cursor: number | undefined, d: EventData) => {
      if (cursor !== undefined) {
        if (seen.current.has(cursor)) return
        seen.current.add(cursor)
      }
      setState((s) => {
        const lastSeq = s.messages.at(-1)?.seq ?? 0
        switch (type) {
          case 'message':
            if (typeof d.message !== 'object') return s
            return {
              ...s,
              messages: upsert(s.messages, d.message),
              running: d.message.role === 'user' || s.running,
              streaming: d.message.role === 'user' ? '' : s.streaming,
              error: undefined,
            }
          case 'delta':
            return { ...s, running: true, streaming: (s.streaming ?? '') + (d.text ?? '') }
          case 'tool': {
            if (!d.message_id) return s
            const prev = s.messages.find((m) => m.id === d.message_id)
            const tool: ChatMessage = {
              id: d.message_id,
              session_id: sessionId ?? '',
              seq: prev?.seq ?? lastSeq + 0.001,
              role: 'tool',
              content:
                d.result === undefined
                  ? ''
                  : typeof d.result === 'string'
                    ? d.result
                    : JSON.stringify(d.result),
              status: d.status === 'started' ? 'running' : (d.status ?? ''),
              tool: {
                name: d.name ?? 'tool',
                arguments: d.arguments ?? prev?.tool?.arguments,
                result: d.result,
              },
              created_at: prev?.created_at ?? new Date().toISOString(),
              updated_at: new Date().toISOString(),
            }
            // The text streamed so far came before the tool call; it stays above it.
            return { ...s, messages: upsert(s.messages, tool), running: true }
          }
          case 'done':
          case 'error': {
            const final = typeof d.message === 'object' ? d.message : d.partial
            // A turn its user stopped is not a failure: the history marks it instead.
            const stopped = type === 'error' && d.code === 'aborted'
            const error =
              type === 'error' && !stopped
                ? turnErrorMessage(d.code, typeof d.message === 'string' ? d.message : undefined)
                : undefined
            const marker = stopped && !final ? stoppedMarker(sessionId ?? '', lastSeq, cursor) : undefined
            const withFinal = final ? upsert(s.messages, final) : s.messages
            return {
              ...s,
              messages: marker ? upsert(withFinal, marker) : withFinal,
              streaming: null,
              running: false,
              error,
            }
          }
          default:
            return s
        }
      })
      if (type === 'done' || type === 'error') onEndRef.current()
    },
    [sessionId],
  )

  useEffect(() => {
    if (!sessionId) {
      setState({ messages: [], streaming: null, running: false, live: 'live', hasEarlier: false })
      return
    }
    let es: EventSource | undefined
    let closed = false
    seen.current = new Set()
    setState({ messages: [], streaming: null, running: false, live: 'connecting', hasEarlier: false })
    void (async () => {
      try {
        const { cursor } = await get<{ cursor: number }>(`${base}/cursor`)
        const history = await get<ChatMessage[]>(
          `${base}/messages${qs({ session_id: sessionId, tail: true, limit: PAGE })}`,
        )
        // Turns stopped or failed before any text left no assistant message: the log says so.
        const { entries, ended } = await turnEndings(base, sessionId, cursor, history).catch(() => ({
          entries: [],
          ended: new Set<string>(),
        }))
        if (closed) return
        const last = history.at(-1)
        setState((s) => ({
          ...s,
          messages: [...history, ...entries].sort((a, b) => a.seq - b.seq),
          hasEarlier: history.length === PAGE && (history[0]?.seq ?? 1) > 1,
          running: last?.role === 'user' && !ended.has(last.id),
        }))
        es = new EventSource(`${base}/events${qs({ stream: true, session_id: sessionId, after: cursor })}`)
        const source = es
        es.onopen = () => setState((s) => ({ ...s, live: 'live' }))
        for (const type of ['message', 'delta', 'tool', 'done', 'error']) {
          es.addEventListener(type, (e) => {
            // A turn's `error` event and a dropped connection share the name: only the first has data.
            if (!(e instanceof MessageEvent)) {
              if (source.readyState !== EventSource.OPEN) setState((s) => ({ ...s, live: 'reconnecting' }))
              return
            }
            const ev = e as MessageEvent<string>
            setState((s) => (s.live === 'live' ? s : { ...s, live: 'live' }))
            apply(type, Number(ev.lastEventId) || undefined, JSON.parse(ev.data) as EventData)
          })
        }
      } catch (e) {
        if (!closed) setState((s) => ({ ...s, error: (e as Error).message }))
      }
    })()
    return () => {
      closed = true
      es?.close()
    }
  }, [base, sessionId, apply])

  const loadEarlier = useCallback(async () => {
    const first = state.messages[0]
    if (!first || !sessionId) return
    const older = await get<ChatMessage[]>(
      `${base}/messages${qs({ session_id: sessionId, tail: true, limit: PAGE, before: first.seq })}`,
    )
    setState((s) => ({
      ...s,
      messages: [...older, ...s.messages.filter((m) => !older.some((o) => o.id === m.id))],
      hasEarlier: older.length === PAGE,
    }))
  }, [base, sessionId, state.messages])

  /** Sends a message and streams the turn; if the stream drops, the follower shows the rest. */
  const send = useCallback(
    async (message: string) => {
      if (!sessionId) return
      setState((s) => ({ ...s, running: true, streaming: '', error: undefined }))
      try {
        const res = await fetch(`${base}/stream`, {
          method: 'POST',
          headers: apiHeaders({ 'content-type': 'application/json', accept: 'text/event-stream' }),
          body: JSON.stringify({ message, session_id: sessionId }),
        })
        if (!res.ok || !res.body) throw await errorOf(res)
        for await (const ev of readSse(res.body)) {
          apply(ev.event, ev.id ? Number(ev.id) : undefined, JSON.parse(ev.data) as EventData)
        }
      } catch (e) {
        const msg = (e as Error).message
        // A dropped stream is not a failed turn: the live follower carries on.
        setState((s) =>
          s.messages.some((m) => m.role === 'user' && m.content === message)
            ? s
            : { ...s, running: false, streaming: null, error: msg },
        )
      }
    },
    [base, sessionId, apply],
  )

  const abort = useCallback(async () => {
    if (sessionId) await post(`${base}/abort`, { session_id: sessionId })
  }, [base, sessionId])

  return { state, send, abort, loadEarlier }
}
