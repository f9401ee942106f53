import { FitAddon } from '@xterm/addon-fit'
import { Terminal } from '@xterm/xterm'
import '@xterm/xterm/css/xterm.css'
import { useEffect, useRef, useState } from 'react'
import { backoffMs, socketUrl } from './socket'

type Conn = 'connecting' | 'connected' | 'reconnecting' | 'ended'

/** An interactive shell (xterm.js over /terminal/ws): fits its box, reattaches after drops. */
export default function TerminalTab({ id }: { id: string }) {
  const box = useRef<HTMLElement>(null)
  const [conn, setConn] = useState<Conn>('connecting')
  const [restart, setRestart] = useState(0)

  // biome-ignore lint/correctness/useExhaustiveDependencies: `restart` starts a new shell on purpose
  useEffect(() => {
    const el = box.current
    if (!el) return
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
    let sessionId: string | undefined
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
          attempt = 0
          setConn('connected')
          sendResize()
        } else if (msg.type === 'exit') {
          term.write(`\r\n[the shell exited with code ${msg.code ?? '?'}]\r\n`)
          sessionId = undefined
          ended = true
          setConn('ended')
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
  }, [id, restart])

  return (
    <div>
      <div className="toolbar">
        <span className="live" role="status">
          {conn === 'connected' ? '● connected' : conn === 'ended' ? 'session ended' : `${conn}…`}
        </span>
        {conn === 'ended' && (
          <button type="button" className="small" onClick={() => setRestart((n) => n + 1)}>
            New session
          </button>
        )}
      </div>
      <section className="term-wrap" ref={box} data-testid="terminal" aria-label="Terminal" />
    </div>
  )
}
