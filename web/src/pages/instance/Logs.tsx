import { useEffect, useRef, useState } from 'react'
import { get, qs } from '../../api'
import { ErrorNote, messageOf } from '../../components/ui'
import { useSearch } from '../../router'

const SOURCES = [
  { id: 'clawlet', label: 'Clawlet' },
  { id: 'gateway', label: 'Gateway' },
  { id: 'desktop', label: 'Desktop' },
  { id: 'boot', label: 'Boot' },
] as const

/** Lines kept on the page while following: older ones scroll away. */
const MAX_LINES = 2000

/** The instance's own logs: a source picker (`?source=` picks the first), the last lines, and a live follow. */
export function LogsTab({ id }: { id: string }) {
  const asked = useSearch().get('source')
  const [source, setSource] = useState<string>(
    SOURCES.some((s) => s.id === asked) ? (asked as string) : 'clawlet',
  )
  const [follow, setFollow] = useState(false)
  const [lines, setLines] = useState<string[]>([])
  const [error, setError] = useState<string>()
  const box = useRef<HTMLPreElement>(null)

  useEffect(() => {
    setLines([])
    setError(undefined)
    if (!follow) {
      const ctl = new AbortController()
      get<{ lines: string[] }>(`/api/instances/${id}/logs${qs({ source, tail: 500 })}`, ctl.signal)
        .then((b) => setLines(b.lines))
        .catch((e) => ctl.signal.aborted || setError(messageOf(e)))
      return () => ctl.abort()
    }
    // The sign-in cookie goes along: EventSource cannot send a header.
    const es = new EventSource(`/api/instances/${id}/logs${qs({ source, tail: 500, follow: true })}`)
    es.addEventListener('lines', (e) => {
      const batch = JSON.parse((e as MessageEvent).data) as { lines: string[]; skipped_bytes: number }
      const skipped = batch.skipped_bytes ? [`[${batch.skipped_bytes} bytes skipped]`] : []
      setLines((old) => [...old, ...skipped, ...batch.lines].slice(-MAX_LINES))
    })
    es.onerror = () => setError('The log stream was interrupted; it reconnects by itself.')
    es.onopen = () => setError(undefined)
    return () => es.close()
  }, [id, source, follow])

  // Stay at the bottom while following, as a terminal would: after every render.
  useEffect(() => {
    const el = box.current
    if (follow && el) el.scrollTop = el.scrollHeight
  })

  return (
    <section aria-label="Logs">
      <div className="row">
        <label>
          Source{' '}
          <select value={source} onChange={(e) => setSource(e.target.value)}>
            {SOURCES.map((s) => (
              <option key={s.id} value={s.id}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
      </div>
      <ErrorNote error={error} />
      <pre ref={box} role="log" aria-label="Log lines" style={{ maxHeight: '60vh', overflow: 'auto' }}>
        {lines.length ? lines.join('\n') : 'Nothing logged yet.'}
      </pre>
    </section>
  )
}
