import { useEffect, useId, useRef, useState } from 'react'
import { ApiError, formatBytes, get, post, qs } from '../../../api'
import { ErrorNote, messageOf, Spinner, useAction } from '../../../components/ui'
import { useLeaveWarning } from '../../../components/useLeaveWarning'

interface ReadResult {
  path: string
  content: string
  encoding: 'utf8' | 'base64'
  size: number
}

/** Opens a file: text is editable and saved with files/write; binary or large files are offered for download. */
export function Editor({ id, path, onClose }: { id: string; path: string; onClose: () => void }) {
  const [file, setFile] = useState<ReadResult | null>(null)
  const [loadError, setLoadError] = useState<{ message: string; tooLarge: boolean } | null>(null)
  const [text, setText] = useState('')
  // What the server holds now: the text as read, then as last saved.
  const [stored, setStored] = useState('')
  const [saved, setSaved] = useState(false)
  const save = useAction()
  const ask = useRef<HTMLDialogElement>(null)
  const askTitle = useId()
  const download = `/api/instances/${id}/files/download${qs({ path })}`
  useEffect(() => {
    let live = true
    setFile(null)
    setLoadError(null)
    get<ReadResult>(`/api/instances/${id}/files/read${qs({ path })}`)
      .then((f) => {
        if (!live) return
        setFile(f)
        const content = f.encoding === 'utf8' ? f.content : ''
        setText(content)
        setStored(content)
      })
      .catch((e: unknown) => {
        if (live)
          setLoadError({
            message: messageOf(e),
            tooLarge: e instanceof ApiError && e.code === 'file_too_large',
          })
      })
    return () => {
      live = false
    }
  }, [id, path])
  const dirty = file?.encoding === 'utf8' && text !== stored
  // The instance page keeps its files tab, and so this editor, mounted across its tabs.
  useLeaveWarning(dirty, `/instances/${id}/`)
  const onSave = async () => {
    setSaved(false)
    const content = text
    const ok = await save.run(() => post(`/api/instances/${id}/files/write`, { path, content }))
    if (ok) {
      setStored(content)
      setSaved(true)
    }
  }
  const close = () => (dirty ? ask.current?.showModal() : onClose())
  return (
    <section className="card editor" aria-label={`Editing ${path}`}>
      <div className="row between">
        <h2 className="mono" style={{ margin: 0 }}>
          {path}
        </h2>
        <div className="row">
          {file?.encoding === 'utf8' && (
            <button
              type="button"
              className="primary small"
              disabled={save.busy}
              onClick={() => void onSave()}
            >
              {save.busy ? 'Saving…' : 'Save'}
            </button>
          )}
          <a className="button small" href={download} download>
            Download
          </a>
          <button type="button" className="small secondary" onClick={close}>
            Close
          </button>
        </div>
      </div>
      {loadError && (
        <div className="error" role="alert" data-code={loadError.tooLarge ? 'file_too_large' : undefined}>
          {loadError.message}{' '}
          {loadError.tooLarge && (
            <a className="button small primary" href={download} download>
              Download the file
            </a>
          )}
        </div>
      )}
      <ErrorNote error={save.error} />
      {!file && !loadError && <Spinner />}
      {file?.encoding === 'base64' && (
        <p className="muted">A binary file ({formatBytes(file.size)}): download it to open it.</p>
      )}
      {file?.encoding === 'utf8' && (
        <>
          <label htmlFor="file-text" className="visually-hidden">
            Contents of {path}
          </label>
          <textarea
            id="file-text"
            spellCheck={false}
            value={text}
            onChange={(e) => {
              setText(e.target.value)
              setSaved(false)
            }}
            onKeyDown={(e) => {
              if ((e.ctrlKey || e.metaKey) && e.key === 's') {
                e.preventDefault()
                void onSave()
              }
            }}
          />
          <small className="muted" role="status">
            {dirty ? 'Unsaved changes (Ctrl+S saves).' : saved ? 'Saved.' : ''}
          </small>
        </>
      )}
      <dialog ref={ask} aria-labelledby={askTitle} className="confirm">
        <form
          method="dialog"
          onSubmit={(e) => {
            if ((e.nativeEvent as SubmitEvent).submitter?.getAttribute('value') === 'discard') onClose()
          }}
        >
          <h2 id={askTitle}>Discard unsaved changes?</h2>
          <p>Your edits to {path} are not saved. Closing throws them away.</p>
          <div className="row end">
            <button type="submit" className="primary" value="keep">
              Keep editing
            </button>
            <button type="submit" className="danger" value="discard">
              Discard changes
            </button>
          </div>
        </form>
      </dialog>
    </section>
  )
}
