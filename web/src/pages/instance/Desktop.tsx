import RFB from '@novnc/novnc'
import { type FormEvent, useEffect, useRef, useState } from 'react'
import { backoffMs, socketUrl } from './socket'

type Conn = 'connecting' | 'connected' | 'reconnecting'

/** The instance's desktop (noVNC over /vnc/ws): scaling, view-only, clipboard both ways. */
export default function DesktopTab({ id }: { id: string }) {
  const screen = useRef<HTMLElement>(null)
  const rfbRef = useRef<RFB | null>(null)
  const [conn, setConn] = useState<Conn>('connecting')
  const [scale, setScale] = useState(true)
  const [viewOnly, setViewOnly] = useState(false)
  const [remoteClip, setRemoteClip] = useState('')
  const [clip, setClip] = useState('')
  const opts = useRef({ scale, viewOnly })
  opts.current = { scale, viewOnly }

  useEffect(() => {
    const el = screen.current
    if (!el) return
    let disposed = false
    let attempt = 0
    let timer: ReturnType<typeof setTimeout> | undefined
    const connect = async () => {
      setConn(attempt === 0 ? 'connecting' : 'reconnecting')
      let url: string
      try {
        url = await socketUrl(id, 'vnc/ws')
      } catch {
        timer = setTimeout(() => void connect(), backoffMs(attempt++))
        return
      }
      if (disposed) return
      const rfb = new RFB(el, url, { shared: true })
      rfb.scaleViewport = opts.current.scale
      rfb.clipViewport = !opts.current.scale
      rfb.viewOnly = opts.current.viewOnly
      rfb.background = '#0c0f12'
      rfb.addEventListener('connect', () => {
        attempt = 0
        setConn('connected')
      })
      rfb.addEventListener('disconnect', () => {
        if (rfbRef.current === rfb) rfbRef.current = null
        if (disposed) return
        setConn('reconnecting')
        timer = setTimeout(() => void connect(), backoffMs(attempt++))
      })
      rfb.addEventListener('clipboard', (e: Event) =>
        setRemoteClip((e as CustomEvent<{ text: string }>).detail.text),
      )
      rfbRef.current = rfb
    }
    void connect()
    return () => {
      disposed = true
      clearTimeout(timer)
      rfbRef.current?.disconnect()
      rfbRef.current = null
    }
  }, [id])

  useEffect(() => {
    const rfb = rfbRef.current
    if (!rfb) return
    rfb.scaleViewport = scale
    rfb.clipViewport = !scale
    rfb.viewOnly = viewOnly
  }, [scale, viewOnly])

  const sendClip = (e: FormEvent) => {
    e.preventDefault()
    rfbRef.current?.clipboardPasteFrom(clip)
  }

  return (
    <div>
      <div className="toolbar">
        <span className="live" role="status">
          {conn === 'connected' ? '● connected' : `${conn}…`}
        </span>
        <label>
          <input type="checkbox" checked={scale} onChange={(e) => setScale(e.target.checked)} /> Scale to fit
        </label>
        <label>
          <input type="checkbox" checked={viewOnly} onChange={(e) => setViewOnly(e.target.checked)} /> View
          only
        </label>
        <button type="button" className="small secondary" onClick={() => rfbRef.current?.focus()}>
          Focus keyboard
        </button>
        <button
          type="button"
          className="small secondary"
          onClick={() => void screen.current?.requestFullscreen().catch(() => {})}
        >
          Full screen
        </button>
      </div>
      {/* The display stays black until something opens a window on it: this says what to expect. */}
      <p className="muted" id="desktop-hint">
        This is the instance's own screen. It stays dark until the agent opens a browser: its window appears
        here. Click into the screen to use the mouse and keyboard there, or tick <em>View only</em> to watch
        without interfering.
      </p>
      <section
        className={`screen${scale ? '' : ' scroll'}`}
        ref={screen}
        data-testid="desktop"
        aria-label="Desktop"
        aria-describedby="desktop-hint"
      />
      <details className="card" style={{ marginTop: '0.75rem' }}>
        <summary>Clipboard</summary>
        <form onSubmit={sendClip} className="row" style={{ marginTop: '0.5rem' }}>
          <label htmlFor="clip-out" className="visually-hidden">
            Text to send to the desktop clipboard
          </label>
          <textarea
            id="clip-out"
            className="grow"
            rows={2}
            value={clip}
            onChange={(e) => setClip(e.target.value)}
            placeholder="Text to paste into the desktop"
          />
          <button type="submit" className="secondary">
            Send to desktop
          </button>
        </form>
        <p className="muted">From the desktop:</p>
        <pre>{remoteClip || '(nothing copied yet)'}</pre>
      </details>
    </div>
  )
}
