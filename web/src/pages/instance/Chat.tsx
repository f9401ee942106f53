import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from 'react'
import { type ChatMessage, type ChatSession, formatTime, get, post } from '../../api'
import { Empty, ErrorNote, Spinner, useAction, useLoad } from '../../components/ui'
import '../../work.css'
import { Markdown } from './chat/Markdown'
import { useChat } from './chat/useChat'

/** Chats a pipeline run held: the runner names them "Pipeline: <pipeline> · run <id>". */
const PIPELINE_TITLE = /^Pipeline: /

function ToolCall({ m }: { m: ChatMessage }) {
  const args = m.tool?.arguments
  const result = m.tool?.result ?? m.content
  return (
    <div className="msg tool" data-role="tool">
      <details>
        <summary>
          Tool <code>{m.tool?.name ?? 'tool'}</code> · {m.status}
        </summary>
        {args !== undefined && args !== null && (
          <pre>{typeof args === 'string' ? args : JSON.stringify(args, null, 2)}</pre>
        )}
        {result !== undefined && result !== '' && (
          <pre>{typeof result === 'string' ? result : JSON.stringify(result, null, 2)}</pre>
        )}
      </details>
    </div>
  )
}

function Message({ m }: { m: ChatMessage }) {
  if (m.role === 'tool') return <ToolCall m={m} />
  if (m.role === 'user')
    return (
      <div className="msg user" data-role="user">
        {m.content}
      </div>
    )
  return (
    <div className={`msg ${m.role} ${m.status}`} data-role={m.role} data-status={m.status}>
      {m.content && <Markdown text={m.content} />}
      {m.status === 'aborted' ? (
        <small className="stopped-marker" title="This turn was stopped before it finished">
          Stopped
        </small>
      ) : (
        m.status !== 'complete' && <small className="muted">({m.status})</small>
      )}
    </div>
  )
}

/** Chat with the instance's agent: sessions, streamed Markdown replies, live follow. */
export function ChatTab({ id }: { id: string }) {
  const sessions = useLoad((s) => get<ChatSession[]>(`/api/instances/${id}/chat/sessions`, s), [id])
  // A session picked in the list; null is a new chat, stored only once its first message is sent.
  const [selected, setSelected] = useState<string | null | undefined>(undefined)
  const [draft, setDraft] = useState('')
  const create = useAction()
  const sessionId = selected === null ? undefined : (selected ?? sessions.data?.[0]?.id)
  const { state, send, abort, loadEarlier } = useChat(id, sessionId, sessions.reload)
  const bottom = useRef<HTMLDivElement>(null)
  // With no session yet, the first message waits for the new session to be selected.
  const pending = useRef<string | null>(null)
  const { reload } = sessions

  useEffect(() => {
    const t = setInterval(reload, 10_000)
    return () => clearInterval(t)
  }, [reload])
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll when the content grows
  useEffect(() => {
    bottom.current?.scrollIntoView({ block: 'end' })
  }, [state.messages.length, state.streaming])

  const createSession = async () => {
    const s = await create.run(() => post<ChatSession>(`/api/instances/${id}/chat/sessions`, {}))
    if (s) {
      setSelected(s.id)
      sessions.reload()
    }
    return s?.id
  }
  const submit = async (e?: FormEvent) => {
    e?.preventDefault()
    const text = draft.trim()
    if (!text || state.running) return
    setDraft('')
    if (sessionId) return send(text)
    pending.current = text
    if (!(await createSession())) {
      pending.current = null
      setDraft(text)
    }
  }
  useEffect(() => {
    if (sessionId && pending.current) {
      const t = pending.current
      pending.current = null
      void send(t)
    }
  }, [sessionId, send])
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault()
      void submit()
    }
  }

  return (
    <div className="chat">
      <aside className="sessions" aria-label="Chat sessions">
        <button
          type="button"
          className="secondary wide"
          onClick={() => setSelected(null)}
          disabled={create.busy}
        >
          New chat
        </button>
        <ErrorNote error={create.error ?? sessions.error} />
        <ul>
          {selected === null && (
            <li>
              <button type="button" aria-current>
                New chat
                <br />
                <small className="muted">not sent yet</small>
              </button>
            </li>
          )}
          {sessions.data?.map((s) => (
            <li key={s.id}>
              <button type="button" aria-current={s.id === sessionId} onClick={() => setSelected(s.id)}>
                {s.title && PIPELINE_TITLE.test(s.title) ? (
                  <>
                    <span className="badge idle" title="Made by a pipeline run">
                      Pipeline
                    </span>{' '}
                    {s.title.replace(PIPELINE_TITLE, '')}
                  </>
                ) : (
                  s.title || 'Untitled chat'
                )}
                <br />
                <small className="muted">{formatTime(s.last_activity)}</small>
              </button>
            </li>
          ))}
        </ul>
      </aside>
      <div className="thread">
        <div className="row between">
          <span className="live" aria-live="polite">
            {sessionId
              ? state.live === 'live'
                ? '● live'
                : state.live === 'reconnecting'
                  ? 'reconnecting…'
                  : 'connecting…'
              : ''}
          </span>
          {state.hasEarlier && (
            <button type="button" className="small secondary" onClick={() => void loadEarlier()}>
              Load earlier messages
            </button>
          )}
        </div>
        <div className="messages" role="log" aria-label="Conversation" data-testid="messages">
          {!sessions.data ? (
            <Spinner />
          ) : state.messages.length === 0 && state.streaming === null ? (
            <Empty>Say something to the agent. It can run commands and edit files in this instance.</Empty>
          ) : (
            state.messages.map((m) => <Message key={m.id} m={m} />)
          )}
          {state.streaming !== null && (
            <div className="msg assistant streaming" data-role="assistant-streaming">
              {state.streaming ? <Markdown text={state.streaming} /> : <Spinner label="Thinking" />}
            </div>
          )}
          <div ref={bottom} />
        </div>
        <ErrorNote error={state.error} />
        <form className="composer" onSubmit={submit}>
          <label htmlFor="chat-input" className="visually-hidden">
            Message
          </label>
          <textarea
            id="chat-input"
            rows={2}
            placeholder="Message the agent (Enter to send, Shift+Enter for a new line)"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={onKey}
          />
          {state.running ? (
            <button type="button" className="secondary" onClick={() => void abort()}>
              Stop
            </button>
          ) : (
            <button type="submit" className="primary" disabled={!draft.trim()}>
              Send
            </button>
          )}
        </form>
      </div>
    </div>
  )
}
