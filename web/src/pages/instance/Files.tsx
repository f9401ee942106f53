import { type DragEvent, useRef, useState } from 'react'
import { del, type FileEntry, formatBytes, formatTime, get, post, qs } from '../../api'
import {
  ConfirmButton,
  Empty,
  ErrorNote,
  PromptButton,
  Spinner,
  useAction,
  useLoad,
} from '../../components/ui'
import { Editor } from './files/Editor'
import { uploadFile } from './files/upload'

const ROOT = '/workspace'

interface Listing {
  path: string
  entries: FileEntry[]
}

interface Upload {
  name: string
  progress: number
  error?: string
}

function join(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '')}/${name}`
}

/** Browse the workspace: open and edit, upload (drag and drop, with progress), download, rename, delete. */
export function FilesTab({ id }: { id: string }) {
  const [dir, setDir] = useState(ROOT)
  const [open, setOpen] = useState<string | null>(null)
  const [uploads, setUploads] = useState<Upload[]>([])
  const [over, setOver] = useState(false)
  const picker = useRef<HTMLInputElement>(null)
  const listing = useLoad((s) => get<Listing>(`/api/instances/${id}/files${qs({ path: dir })}`, s), [id, dir])
  const action = useAction()
  const base = `/api/instances/${id}/files`

  const upload = async (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      setUploads((u) => [...u, { name: file.name, progress: 0 }])
      const set = (patch: Partial<Upload>) =>
        setUploads((u) => u.map((x) => (x.name === file.name ? { ...x, ...patch } : x)))
      try {
        await uploadFile(id, join(dir, file.name), file, (p) => set({ progress: p }))
        set({ progress: 1 })
        setTimeout(() => setUploads((u) => u.filter((x) => x.name !== file.name || x.error)), 2000)
      } catch (e) {
        set({ error: (e as Error).message })
      }
      listing.reload()
    }
  }
  const onDrop = (e: DragEvent) => {
    e.preventDefault()
    setOver(false)
    if (e.dataTransfer.files.length) void upload(e.dataTransfer.files)
  }
  /** Runs a change, then shows the folder again. */
  const change = (fn: () => Promise<unknown>) =>
    void action.run(async () => {
      await fn()
      listing.reload()
    })
  const mkdir = (name: string) => change(() => post(`${base}/mkdir`, { path: join(dir, name) }))
  const rename = (entry: FileEntry, name: string) =>
    change(() => post(`${base}/move`, { from: entry.path, to: join(dir, name) }))
  const remove = (entry: FileEntry) =>
    change(() => del(`${base}${qs({ path: entry.path, recursive: entry.type === 'dir' })}`))

  const parts = dir.split('/').filter(Boolean)
  const entries = [...(listing.data?.entries ?? [])].sort((a, b) =>
    a.type === b.type ? a.name.localeCompare(b.name) : a.type === 'dir' ? -1 : b.type === 'dir' ? 1 : 0,
  )
  const closeEditor = () => {
    setOpen(null)
    listing.reload()
  }
  if (open) return <Editor id={id} path={open} onClose={closeEditor} />
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a drop target; the Upload button is the keyboard way
    <div
      onDragOver={(e) => {
        e.preventDefault()
        setOver(true)
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <div className="row between">
        <nav className="crumbs" aria-label="Folder">
          {parts.map((p, i) => {
            const path = `/${parts.slice(0, i + 1).join('/')}`
            return (
              <span key={path}>
                {i > 0 && '/'}
                <button
                  type="button"
                  onClick={() => setDir(path)}
                  aria-current={path === dir ? 'location' : undefined}
                >
                  {p}
                </button>
              </span>
            )
          })}
        </nav>
        <div className="row">
          <PromptButton
            className="small secondary"
            title={`New folder in ${dir}`}
            label="Folder name"
            submitLabel="Create folder"
            onSubmit={mkdir}
          >
            New folder
          </PromptButton>
          <button type="button" className="small primary" onClick={() => picker.current?.click()}>
            Upload
          </button>
          <input
            ref={picker}
            type="file"
            multiple
            hidden
            aria-label="Files to upload"
            onChange={(e) => e.target.files && void upload(e.target.files)}
          />
        </div>
      </div>
      <div className={`dropzone${over ? ' over' : ''}`}>Drop files here to upload them into {dir}</div>
      {uploads.map((u) => (
        <div key={u.name} className="row">
          <span className="grow mono">{u.name}</span>
          {u.error ? (
            <span className="error">{u.error}</span>
          ) : (
            <progress value={u.progress} max={1} aria-label={`Uploading ${u.name}`} />
          )}
        </div>
      ))}
      <ErrorNote error={action.error ?? listing.error} />
      {!listing.data ? (
        <Spinner />
      ) : entries.length === 0 ? (
        <Empty>This folder is empty.</Empty>
      ) : (
        <div className="table-wrap card">
          <table className="files" aria-label={`Files in ${dir}`}>
            <thead>
              <tr>
                <th>Name</th>
                <th>Size</th>
                <th>Modified</th>
                <th>
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.path} data-file={e.name}>
                  <td className="name">
                    <button
                      type="button"
                      onClick={() => (e.type === 'dir' ? setDir(e.path) : setOpen(e.path))}
                    >
                      {e.name}
                      {e.type === 'dir' ? '/' : ''}
                    </button>
                  </td>
                  <td className="muted">{e.type === 'dir' ? '' : formatBytes(e.size)}</td>
                  <td className="muted">{formatTime(e.modified_at)}</td>
                  <td>
                    <div className="row end">
                      <a className="button small" href={`${base}/download${qs({ path: e.path })}`} download>
                        Download
                      </a>
                      <PromptButton
                        className="small secondary"
                        title={`Rename ${e.name}`}
                        label="New name"
                        initial={e.name}
                        submitLabel="Rename"
                        onSubmit={(name) => rename(e, name)}
                      >
                        Rename
                      </PromptButton>
                      <ConfirmButton
                        className="small danger"
                        danger
                        title={`Delete ${e.name}?`}
                        message={
                          e.type === 'dir'
                            ? 'The folder and everything in it are deleted.'
                            : 'The file is deleted.'
                        }
                        confirmLabel="Delete"
                        onConfirm={() => remove(e)}
                      >
                        Delete
                      </ConfirmButton>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}
