import { type FormEvent, useEffect, useRef, useState } from 'react'
import { apiHeaders, errorOf } from '../../api'
import { ErrorNote, Field, messageOf } from '../../components/ui'
import { readSse } from '../instance/chat/sse'
import { RunBadge } from './RunBadge'
import type { BroadcastOutcome, BroadcastResult, Swarm } from './types'

/** Sends one message to every member and shows each reply as it arrives (streamed). */
export function Broadcast({ swarm }: { swarm: Swarm }) {
  const [message, setMessage] = useState('')
  const [results, setResults] = useState<BroadcastResult[]>([])
  const [outcome, setOutcome] = useState<BroadcastOutcome | undefined>(undefined)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | undefined>(undefined)
  const ctl = useRef<AbortController | undefined>(undefined)
  useEffect(() => () => ctl.current?.abort(), [])

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    ctl.current?.abort()
    const abort = new AbortController()
    ctl.current = abort
    setBusy(true)
    setError(undefined)
    setResults([])
    setOutcome(undefined)
    try {
      const res = await fetch(`/api/swarms/${swarm.id}/broadcast`, {
        method: 'POST',
        headers: apiHeaders({ 'content-type': 'application/json', accept: 'text/event-stream' }),
        body: JSON.stringify({ message }),
        credentials: 'same-origin',
        signal: abort.signal,
      })
      if (!res.ok || !res.body) throw await errorOf(res)
      for await (const ev of readSse(res.body, abort.signal)) {
        if (ev.event === 'reply') {
          const r = JSON.parse(ev.data) as BroadcastResult
          setResults((rs) => [...rs.filter((x) => x.instance_id !== r.instance_id), r])
        } else if (ev.event === 'done') {
          const out = JSON.parse(ev.data) as BroadcastOutcome
          setOutcome(out)
          setResults(out.results)
        } else if (ev.event === 'error') setError((JSON.parse(ev.data) as { message: string }).message)
      }
    } catch (err) {
      if (!abort.signal.aborted) setError(messageOf(err))
    } finally {
      if (ctl.current === abort) setBusy(false)
    }
  }

  const nameOf = (id: string) => {
    const m = swarm.members.find((x) => x.instance_id === id)
    return m
      ? `${m.position + 1}. ${m.name || id.slice(0, 8)}${m.role ? ` (${m.role})` : ''}`
      : id.slice(0, 8)
  }
  const answered = new Set(results.map((r) => r.instance_id))
  const waiting = busy ? swarm.members.filter((m) => !answered.has(m.instance_id)) : []

  return (
    <form onSubmit={submit} aria-label={`Broadcast to ${swarm.name}`}>
      <h3>Broadcast</h3>
      <Field label="Message to every member">
        {(id) => (
          <textarea id={id} rows={2} required value={message} onChange={(e) => setMessage(e.target.value)} />
        )}
      </Field>
      <div className="row">
        <button type="submit" className="primary" disabled={busy || !message.trim() || !swarm.members.length}>
          {busy ? 'Waiting for replies…' : 'Send to all'}
        </button>
        {busy && (
          <button type="button" className="secondary" onClick={() => ctl.current?.abort()}>
            Stop waiting
          </button>
        )}
        {outcome && (
          <span className="muted" role="status">
            {outcome.replied} replied, {outcome.failed} failed, {outcome.pending} pending
          </span>
        )}
      </div>
      <ErrorNote error={error} />
      {(results.length > 0 || waiting.length > 0) && (
        <ul className="replies" aria-label="Replies" aria-live="polite">
          {results.map((r) => (
            <li key={r.instance_id} data-reply={r.instance_id}>
              <div className="row">
                <strong>{nameOf(r.instance_id)}</strong>
                <RunBadge status={r.status} />
              </div>
              {r.reply && <pre>{r.reply}</pre>}
              {r.error && <p className="error">{r.error}</p>}
            </li>
          ))}
          {waiting.map((m) => (
            <li key={m.instance_id} className="muted">
              {nameOf(m.instance_id)}: waiting…
            </li>
          ))}
        </ul>
      )}
    </form>
  )
}
