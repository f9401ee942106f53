import { useState } from 'react'
import { get } from '../../api'
import { ErrorNote, useLoad } from '../../components/ui'
import { usePoll } from '../../poll'

/** One lifecycle event, as GET /api/instances/{id}/events answers it. */
interface LifecycleEvent {
  cursor: number
  type: string
  reason: string | null
  data: Record<string, unknown>
  created_at: string
}

/** Kinds that mean something went wrong: shown as errors, with what to do. */
const TROUBLE: Record<string, string> = {
  crashed: 'Its sandbox died; it is restarted unless it keeps crashing.',
  oom_killed: 'A process ran out of memory: use less, or ask for a plan with more.',
  start_timeout: 'It did not start in time: see the reason, then start it again.',
  error: 'Start it again once the cause is fixed.',
  runaway_processes_killed: 'Processes were stopped for exceeding the plan’s limits.',
}

const SHOWN = 20

/** The instance's status history with reasons: crashes, OOM kills and failed starts included; `busy` reads it often. */
export function EventsSection({ id, busy = false }: { id: string; busy?: boolean }) {
  const [all, setAll] = useState(false)
  const { data, error, reload } = useLoad(
    (s) => get<LifecycleEvent[]>(`/api/instances/${id}/events?limit=500`, s),
    [id],
  )
  usePoll(reload, busy)
  const events = [...(data ?? [])].reverse()
  const shown = all ? events : events.slice(0, SHOWN)
  return (
    <section aria-label="Events">
      <h2>Events</h2>
      <ErrorNote error={error} />
      {data && !events.length && <p className="muted">No events yet.</p>}
      {shown.length > 0 && (
        <table className="events">
          <thead>
            <tr>
              <th>When</th>
              <th>Event</th>
              <th>Why</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.cursor} className={TROUBLE[e.type] ? 'error' : undefined}>
                <td className="mono">{new Date(e.created_at).toLocaleString()}</td>
                <td>{e.type.replaceAll('_', ' ')}</td>
                <td>
                  {e.reason}
                  {TROUBLE[e.type] && <div className="muted">{TROUBLE[e.type]}</div>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {events.length > SHOWN && (
        <button type="button" onClick={() => setAll(!all)}>
          {all ? 'Show fewer' : `Show all ${events.length}`}
        </button>
      )}
    </section>
  )
}
