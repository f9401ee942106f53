import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Api } from './http.js'
import { Progress } from './progress.js'

interface Entry {
  name: string
  path: string
  type: 'file' | 'dir' | 'symlink'
  size: number
}

/** Counts bytes through a stream for the progress bar. */
function counter(progress: Progress): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      progress.bytes(chunk.length)
      done(null, chunk)
    },
  })
}

/** Every file under a local folder (relative paths), and the folders (to create empty ones). */
async function localTree(
  root: string,
): Promise<{ files: Array<{ rel: string; size: number }>; dirs: string[] }> {
  const files: Array<{ rel: string; size: number }> = []
  const dirs: string[] = []
  async function walk(rel: string) {
    for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name
      if (e.isDirectory()) {
        dirs.push(r)
        await walk(r)
      } else if (e.isFile()) files.push({ rel: r, size: (await stat(path.join(root, r))).size })
    }
  }
  await walk('')
  return { files, dirs }
}

/** Uploads a local file or folder (recursively, raw bytes) to a remote path. */
export async function upload(api: Api, id: string, local: string, remote: string) {
  const info = await stat(local)
  const single = !info.isDirectory()
  const tree = single ? { files: [{ rel: '', size: info.size }], dirs: [] } : await localTree(local)
  const progress = new Progress(
    tree.files.reduce((n, f) => n + f.size, 0),
    tree.files.length,
  )
  const uploaded: Array<{ path: string; size: number }> = []
  if (!single) {
    await api.json('POST', `/instances/${id}/files/mkdir`, { body: { path: remote } })
    for (const d of tree.dirs)
      await api.json('POST', `/instances/${id}/files/mkdir`, { body: { path: `${remote}/${d}` } })
  }
  for (const f of tree.files) {
    const source = single ? local : path.join(local, f.rel)
    const target = single ? remote : `${remote}/${f.rel}`
    const body = createReadStream(source).pipe(counter(progress))
    const res = await api.fetch('POST', `/instances/${id}/files/upload`, {
      query: { path: target },
      raw: body,
    })
    uploaded.push((await res.json()) as { path: string; size: number })
    progress.file()
  }
  progress.finish()
  return { uploaded, folders: tree.dirs.length }
}

/** Every file under a remote folder, walking files/list. */
async function remoteTree(api: Api, id: string, root: string): Promise<{ files: Entry[]; dirs: Entry[] }> {
  const files: Entry[] = []
  const dirs: Entry[] = []
  async function walk(dir: string) {
    const list = await api.json<{ entries: Entry[] }>('GET', `/instances/${id}/files`, {
      query: { path: dir },
    })
    for (const e of list.entries) {
      if (e.type === 'dir') {
        dirs.push(e)
        await walk(e.path)
      } else if (e.type === 'file') files.push(e)
    }
  }
  await walk(root)
  return { files, dirs }
}

/** Downloads a remote file or folder (recursively, file by file) to a local path. */
export async function download(api: Api, id: string, remote: string, local: string) {
  const info = await api.json<Entry>('GET', `/instances/${id}/files/stat`, { query: { path: remote } })
  const single = info.type !== 'dir'
  const tree = single ? { files: [info], dirs: [] } : await remoteTree(api, id, info.path)
  const progress = new Progress(
    tree.files.reduce((n, f) => n + f.size, 0),
    tree.files.length,
  )
  const rel = (p: string) => path.posix.relative(info.path, p)
  await mkdir(single ? path.dirname(path.resolve(local)) : local, { recursive: true })
  for (const d of tree.dirs) await mkdir(path.join(local, rel(d.path)), { recursive: true })
  const written: Array<{ path: string; size: number }> = []
  for (const f of tree.files) {
    const target = single ? local : path.join(local, rel(f.path))
    const res = await api.fetch('GET', `/instances/${id}/files/download`, { query: { path: f.path } })
    const source = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream)
    await pipeline(source, counter(progress), createWriteStream(target))
    written.push({ path: target, size: (await stat(target)).size })
    progress.file()
  }
  progress.finish()
  return { downloaded: written, folders: tree.dirs.length }
}
