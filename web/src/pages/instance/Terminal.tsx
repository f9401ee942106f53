import { FitAddon } from '@xterm/addon-fit'
import { Terminal } from '@xterm/xterm'
import '@xterm/xterm/css/xterm.css'
import '../../work.css'
import { useEffect, useId, useRef, useState } from 'react'
import { formatTime, get } from '../../api'
import { backoffMs, socketUrl } from './socket'

type Conn = 'connecting' | 'connected' | 'reconnecting' | 'ended'

interface SessionInfo {
  id: string
  created_at: string
  exited: boolean
}

/** Which session to show: an existing one by id, or a new shell (`n` makes each request new). */
interface Target {
  sid: string | undefined
  n: number
}

/** The instance's last terminal session in this tab, so coming back reattaches to it. */
const lastKey = (id: string) => `clawport.terminal.${id}`

/** Interactive shells (xterm.js over /terminal/ws): reattaches the last one, several sessions, full screen. */
export default function TerminalTab({ id }: { id: string }) {
  const frame = useRef<HTMLDivElement>(null)
  const box = useRef<HTMLElement>(null)
  const [conn, setConn] = useState<Conn>('connecting')
  const [target, setTarget] = useState<Target | null>(null)
  const [current, setCurrent] = useState<string | undefined>(undefined)
  const [sessions, setSessions] = useState<SessionInfo[]>([])
  const [full, setFull] = useState(false)
  const pickerId = useId()

  const listSessions = async () => {
    const list = await get<SessionInfo[]>(`/api/instances/${id}/terminal/sessions`).catch(() => [])
    const open = list.filter((s) => !s.exited)
    setSessions(open)
    return open
  }

  // Picks the session to attach to first: the last one, while it still runs.
  // biome-ignore lint/correctness/useExhaustiveDependencies: once per instance
  useEffect(() => {
    let live = true
    void listSessions().then((open) => {
      const last = sessionStorage.getItem(lastKey(id)) ?? undefined
      if (live) setTarget({ sid: open.some((s) => s.id === last) ? last : undefined, n: 0 })
    })
    return () => {
      live = false
    }
  }, [id])

  // biome-ignore lint/correctness/useExhaustiveDependencies: `target` changes the session on purpose
  useEffect(() => {
    const el = box.current
    if (!el || !target) return
    const term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: { background: '#0c0f12' },
    })
    const fit = new FitAddon()
    term.loadAddon(fit)
    term.open(el)
    fit.fit()
    term.focus()
    let ws: WebSocket | undefined
    let sessionId = target.sid
    let attempt = 0
    let disposed = false
    let ended = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const enc = new TextEncoder()

    const sendResize = () => {
      if (ws?.readyState === WebSocket.OPEN)
        ws.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }))
    }
    const connect = async () => {
      setConn(attempt === 0 ? 'connecting' : 'reconnecting')
      try {
        const url = await socketUrl(id, 'terminal/ws', {
          cols: term.cols,
          rows: term.rows,
          session_id: sessionId,
        })
        if (disposed) return
        ws = new WebSocket(url)
      } catch {
        schedule()
        return
      }
      ws.binaryType = 'arraybuffer'
      ws.onmessage = (e) => {
        if (typeof e.data !== 'string') {
          term.write(new Uint8Array(e.data as ArrayBuffer))
          return
        }
        const msg = JSON.parse(e.data) as { type: string; session_id?: string; code?: number }
        if (msg.type === 'ready') {
          // A reattached session replays its recent output: start from a clean screen.
          if (sessionId) term.reset()
          sessionId = msg.session_id
          if (sessionId) sessionStorage.setItem(lastKey(id), sessionId)
          setCurrent(sessionId)
          attempt = 0
          setConn('connected')
          sendResize()
          void listSessions()
        } else if (msg.type === 'exit') {
          term.write(`\r\n[the shell exited with code ${msg.code ?? '?'}]\r\n`)
          sessionStorage.removeItem(lastKey(id))
          sessionId = undefined
          ended = true
          setConn('ended')
          void listSessions()
        }
      }
      ws.onclose = () => {
        if (disposed || ended) return
        setConn('reconnecting')
        schedule()
      }
    }
    const schedule = () => {
      if (disposed) return
      clearTimeout(timer)
      timer = setTimeout(() => void connect(), backoffMs(attempt++))
    }
    const input = term.onData((d) => {
      if (ws?.readyState === WebSocket.OPEN) ws.send(enc.encode(d))
    })
    const binary = term.onBinary((d) => {
      if (ws?.readyState === WebSocket.OPEN) ws.send(Uint8Array.from(d, (c) => c.charCodeAt(0)))
    })
    const resized = term.onResize(sendResize)
    const observer = new ResizeObserver(() => fit.fit())
    observer.observe(el)
    void connect()
    return () => {
      disposed = true
      clearTimeout(timer)
      observer.disconnect()
      input.dispose()
      binary.dispose()
      resized.dispose()
      ws?.close()
      term.dispose()
    }
  }, [id, target])

  useEffect(() => {
    const onChange = () => setFull(document.fullscreenElement === frame.current)
    document.addEventListener('fullscreenchange', onChange)
    return () => document.removeEventListener('fullscreenchange', onChange)
  }, [])
  const toggleFull = async () => {
    if (document.fullscreenElement) await document.exitFullscreen().catch(() => {})
    else await frame.current?.requestFullscreen().catch(() => {})
  }
  const newShell = () => setTarget((t) => ({ sid: undefined, n: (t?.n ?? 0) + 1 }))

  return (
    <div ref={frame} className={`term-frame${full ? ' full' : ''}`}>
      <div className="toolbar">
        <span className="live" role="status">
          {conn === 'connected' ? '● connected' : conn === 'ended' ? 'session ended' : `${conn}…`}
        </span>
        <label htmlFor={pickerId}>Session</label>
        <select
          id={pickerId}
          value={current ?? ''}
          onChange={(e) => setTarget((t) => ({ sid: e.target.value, n: (t?.n ?? 0) + 1 }))}
        >
          {!sessions.some((s) => s.id === current) && <option value={current ?? ''}>…</option>}
          {sessions.map((s, i) => (
            <option key={s.id} value={s.id}>
              {`Terminal ${i + 1} · ${formatTime(s.created_at)}`}
            </option>
          ))}
        </select>
        <button type="button" className="small" onClick={newShell}>
          New terminal
        </button>
        <button
          type="button"
          className="small secondary"
          aria-pressed={full}
          onClick={() => void toggleFull()}
        >
          {full ? 'Exit full screen' : 'Full screen'}
        </button>
      </div>
      <section className="term-wrap" ref={box} data-testid="terminal" aria-label="Terminal" />
    </div>
  )
}
