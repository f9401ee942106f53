import { useEffect, useState } from 'react'
import { formatBytes, get, post, qs } from '../../../api'
import { ErrorNote, Spinner, useAction } from '../../../components/ui'

interface ReadResult {
  path: string
  content: string
  encoding: 'utf8' | 'base64'
  size: number
}

/** Opens a file: text is editable and saved with files/write; binary is offered for download. */
export function Editor({ id, path, onClose }: { id: string; path: string; onClose: () => void }) {
  const [file, setFile] = useState<ReadResult | null>(null)
  const [text, setText] = useState('')
  const [saved, setSaved] = useState(false)
  const load = useAction()
  const save = useAction()
  const { run } = load
  useEffect(() => {
    void run(async () => {
      const f = await get<ReadResult>(`/api/instances/${id}/files/read${qs({ path })}`)
      setFile(f)
      setText(f.encoding === 'utf8' ? f.content : '')
    })
  }, [id, path, run])
  const onSave = async () => {
    setSaved(false)
    const ok = await save.run(() => post(`/api/instances/${id}/files/write`, { path, content: text }))
    if (ok) setSaved(true)
  }
  const dirty = file?.encoding === 'utf8' && text !== file.content && !saved
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
          <a className="button small" href={`/api/instances/${id}/files/download${qs({ path })}`} download>
            Download
          </a>
          <button type="button" className="small secondary" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
      <ErrorNote error={load.error ?? save.error} />
      {!file && !load.error && <Spinner />}
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
            {saved ? 'Saved.' : dirty ? 'Unsaved changes (Ctrl+S saves).' : ''}
          </small>
        </>
      )}
    </section>
  )
}
