import { type ReactNode, useCallback, useEffect, useId, useRef, useState } from 'react'
import { ApiError } from '../api'

/** Loads data once (and on demand); keeps the last good value while reloading. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  const [tick, setTick] = useState(0)
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller lists what `load` depends on
  useEffect(() => {
    const ctl = new AbortController()
    load(ctl.signal)
      .then((v) => {
        setData(v)
        setError(undefined)
      })
      .catch((e: unknown) => {
        if (!ctl.signal.aborted) setError(messageOf(e))
      })
    return () => ctl.abort()
  }, [...deps, tick])
  const reload = useCallback(() => setTick((n) => n + 1), [])
  return { data, error, reload, setData }
}

export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.message
  if (e instanceof Error) return e.message
  return String(e)
}

/** Runs an action, tracking its progress and error for the button that started it. */
export function useAction() {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | undefined>(undefined)
  const run = useCallback(async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true)
    setError(undefined)
    try {
      return await fn()
    } catch (e) {
      setError(messageOf(e))
      return undefined
    } finally {
      setBusy(false)
    }
  }, [])
  return { busy, error, setError, run }
}

export function ErrorNote({ error }: { error?: string }) {
  if (!error) return null
  return (
    <p className="error" role="alert">
      {error}
    </p>
  )
}

export function Spinner({ label = 'Loading' }: { label?: string }) {
  return (
    <span className="spinner" role="status">
      <span className="visually-hidden">{label}</span>
    </span>
  )
}

export function Field({
  label,
  hint,
  children,
}: {
  label: string
  hint?: string
  children: (id: string) => ReactNode
}) {
  const id = useId()
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id)}
      {hint && <small className="hint">{hint}</small>}
    </div>
  )
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState(false)
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text)
    } catch {
      // Without clipboard permission, fall back to a selection the user can copy.
      const ta = document.createElement('textarea')
      ta.value = text
      document.body.append(ta)
      ta.select()
      document.execCommand('copy')
      ta.remove()
    }
    setDone(true)
    setTimeout(() => setDone(false), 1500)
  }
  return (
    <button type="button" className="secondary" onClick={copy} aria-live="polite">
      {done ? 'Copied' : label}
    </button>
  )
}

/** A button that asks first, in a modal dialog (Escape cancels). */
export function ConfirmButton({
  children,
  title,
  message,
  confirmLabel,
  onConfirm,
  danger,
  disabled,
  className,
}: {
  children: ReactNode
  title: string
  message: ReactNode
  confirmLabel: string
  onConfirm: () => void
  danger?: boolean
  disabled?: boolean
  className?: string
}) {
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  return (
    <>
      <button
        type="button"
        className={className ?? (danger ? 'danger' : 'secondary')}
        disabled={disabled}
        onClick={() => ref.current?.showModal()}
      >
        {children}
      </button>
      <dialog ref={ref} aria-labelledby={titleId} className="confirm">
        <form method="dialog">
          <h2 id={titleId}>{title}</h2>
          <div>{message}</div>
          <div className="row end">
            <button type="submit" className="secondary" value="cancel">
              Cancel
            </button>
            <button
              type="submit"
              className={danger ? 'danger' : 'primary'}
              value="ok"
              onClick={() => onConfirm()}
            >
              {confirmLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  )
}

/** A button that asks for one value in a modal dialog (Escape cancels); empty or unchanged does nothing. */
export function PromptButton({
  children,
  title,
  label,
  initial = '',
  submitLabel,
  onSubmit,
  type = 'text',
  minLength,
  className,
}: {
  children: ReactNode
  title: string
  label: string
  initial?: string
  submitLabel: string
  onSubmit: (value: string) => void
  type?: 'text' | 'password'
  minLength?: number
  className?: string
}) {
  const ref = useRef<HTMLDialogElement>(null)
  const [value, setValue] = useState(initial)
  const titleId = useId()
  const inputId = useId()
  const open = () => {
    setValue(initial)
    ref.current?.showModal()
  }
  return (
    <>
      <button type="button" className={className ?? 'secondary'} onClick={open}>
        {children}
      </button>
      <dialog ref={ref} aria-labelledby={titleId} className="confirm">
        <form
          method="dialog"
          onSubmit={(e) => {
            const v = value.trim()
            if ((e.nativeEvent as SubmitEvent).submitter?.getAttribute('value') !== 'ok') return
            if (v && v !== initial) onSubmit(type === 'password' ? value : v)
          }}
        >
          <h2 id={titleId}>{title}</h2>
          <div className="field">
            <label htmlFor={inputId}>{label}</label>
            <input
              id={inputId}
              type={type}
              value={value}
              required
              minLength={minLength}
              autoComplete={type === 'password' ? 'new-password' : 'off'}
              onChange={(e) => setValue(e.target.value)}
            />
          </div>
          <div className="row end">
            <button type="submit" className="secondary" value="cancel" formNoValidate>
              Cancel
            </button>
            <button type="submit" className="primary" value="ok">
              {submitLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  )
}

const STATUS_TONE: Record<string, string> = {
  ready: 'ok',
  provisioning: 'busy',
  starting: 'busy',
  rebooting: 'busy',
  stopping: 'busy',
  deleting: 'busy',
  waking: 'busy',
  stopped: 'idle',
  sleeping: 'idle',
  error: 'bad',
}

export function StatusBadge({ status }: { status: string }) {
  const tone = STATUS_TONE[status] ?? 'idle'
  return (
    <span className={`badge ${tone}`} data-status={status}>
      {tone === 'busy' && <span className="dot pulse" aria-hidden />}
      {status}
    </span>
  )
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>
}
