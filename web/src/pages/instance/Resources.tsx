import { useCallback, useEffect, useState } from 'react'
import { formatBytes, get } from '../../api'
import { ErrorNote, messageOf } from '../../components/ui'

/** GET /api/instances/{id}/metrics, the parts shown here. */
interface Metrics {
  running: boolean
  at: string
  cpu: { percent: number | null; limit_cpus: number }
  memory: { used_bytes: number | null; limit_bytes: number | null }
  disk: { used_bytes: number | null; limit_bytes: number | null }
  processes: { count: number | null; limit: number | null }
  network: { rx_bytes: number; tx_bytes: number } | null
  gateway: { up: boolean; status: string }
}

const POLL_MS = 5000
/** Samples kept for the history: five minutes at one every five seconds. */
const HISTORY = 60

/** A tiny line of recent values, 0 at the bottom and `max` at the top. */
function Spark({ values, max, label }: { values: number[]; max: number; label: string }) {
  const w = 120
  const h = 24
  if (values.length < 2) return null
  const step = w / (HISTORY - 1)
  const points = values
    .map((v, i) => `${(i + HISTORY - values.length) * step},${h - (Math.min(v, max) / max) * h}`)
    .join(' ')
  return (
    <svg width={w} height={h} role="img" aria-label={label} style={{ verticalAlign: 'middle' }}>
      <polyline points={points} fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  )
}

const of = (used: number | null, limit: number | null) =>
  used === null ? '—' : `${formatBytes(used)}${limit ? ` of ${formatBytes(limit)}` : ''}`

/** The instance's CPU, memory, disk, processes and network now, with a short history (polled here). */
export function ResourcesSection({ id, running }: { id: string; running: boolean }) {
  const [now, setNow] = useState<Metrics>()
  const [history, setHistory] = useState<Metrics[]>([])
  const [error, setError] = useState<string>()
  const load = useCallback(() => {
    get<Metrics>(`/api/instances/${id}/metrics`)
      .then((m) => {
        setNow(m)
        setError(undefined)
        if (m.running) setHistory((h) => [...h, m].slice(-HISTORY))
      })
      .catch((e) => setError(messageOf(e)))
  }, [id])
  useEffect(() => {
    if (!running) return
    load()
    const t = setInterval(load, POLL_MS)
    return () => clearInterval(t)
  }, [load, running])
  if (!running) return null
  const cpu = history.map((m) => m.cpu.percent ?? 0)
  const mem = history.map((m) => m.memory.used_bytes ?? 0)
  return (
    <section aria-label="Resources">
      <h2>Resources</h2>
      <ErrorNote error={error} />
      {now && (
        <table className="events">
          <tbody>
            <tr>
              <th>CPU</th>
              <td>
                {now.cpu.percent === null ? '—' : `${now.cpu.percent} %`}{' '}
                <span className="muted">of {now.cpu.limit_cpus * 100} %</span>
              </td>
              <td>
                <Spark values={cpu} max={now.cpu.limit_cpus * 100} label="CPU history" />
              </td>
            </tr>
            <tr>
              <th>Memory</th>
              <td>{of(now.memory.used_bytes, now.memory.limit_bytes)}</td>
              <td>
                <Spark
                  values={mem}
                  max={now.memory.limit_bytes ?? Math.max(...mem, 1)}
                  label="Memory history"
                />
              </td>
            </tr>
            <tr>
              <th>Disk</th>
              <td colSpan={2}>{of(now.disk.used_bytes, now.disk.limit_bytes)}</td>
            </tr>
            <tr>
              <th>Processes</th>
              <td colSpan={2}>
                {now.processes.count ?? '—'}
                {now.processes.limit ? ` of ${now.processes.limit}` : ''}
              </td>
            </tr>
            <tr>
              <th>Network</th>
              <td colSpan={2}>
                {now.network
                  ? `in ${formatBytes(now.network.rx_bytes)}, out ${formatBytes(now.network.tx_bytes)}`
                  : 'no network'}
              </td>
            </tr>
            <tr>
              <th>Gateway</th>
              <td colSpan={2}>{now.gateway.up ? 'up' : now.gateway.status}</td>
            </tr>
          </tbody>
        </table>
      )}
    </section>
  )
}
