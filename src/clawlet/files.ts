import { isUtf8 } from 'node:buffer'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { constants, type Stats } from 'node:fs'
import {
  access,
  cp,
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  rmdir,
  unlink,
} from 'node:fs/promises'
import path from 'node:path'
import { type Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { errors } from '../errors.js'
import { errnoCode } from '../lib/errno.js'
import {
  type FileContent,
  type FileEntry,
  type FileList,
  type PathResult,
  READ_CEILING_BYTES,
  READ_DEFAULT_MAX_BYTES,
  type WriteResult,
} from '../wire/clawlet.js'
import { diskFull, fsError, isProtectedPath, resolvePath } from './paths.js'

// O_NONBLOCK so that opening a FIFO never hangs the clawlet; it has no effect on regular files.
const OPEN_READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK
const TOOL_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' }

function toEntry(abs: string, info: Stats): FileEntry {
  return {
    name: abs === '/' ? '/' : path.posix.basename(abs),
    path: abs,
    type: info.isSymbolicLink() ? 'symlink' : info.isDirectory() ? 'dir' : 'file',
    size: info.size,
    modified_at: info.mtime.toISOString(),
  }
}

/** The entries of a folder: folders first, then by name. */
export async function listDir(input: string): Promise<FileList> {
  const dir = resolvePath(input)
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    throw fsError(err, dir)
  }
  const entries: FileEntry[] = []
  await Promise.all(
    names.map(async (name) => {
      const abs = path.posix.join(dir, name)
      try {
        entries.push(toEntry(abs, await lstat(abs)))
      } catch {
        // Removed between readdir and lstat: it is simply no longer listed.
      }
    }),
  )
  entries.sort((a, b) => {
    if ((a.type === 'dir') !== (b.type === 'dir')) return a.type === 'dir' ? -1 : 1
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
  })
  return { path: dir, entries }
}

/** One entry; a symbolic link is described as itself, not as its target. */
export async function statPath(input: string): Promise<FileEntry> {
  const abs = resolvePath(input)
  try {
    return toEntry(abs, await lstat(abs))
  } catch (err) {
    throw fsError(err, abs)
  }
}

/** Opens a regular file for reading, refusing folders and special files. */
async function openRegular(abs: string): Promise<{ handle: FileHandle; info: Stats }> {
  let handle: FileHandle
  try {
    handle = await open(abs, OPEN_READ_FLAGS)
  } catch (err) {
    throw fsError(err, abs)
  }
  const info = await handle.stat()
  if (info.isFile() || info.isDirectory()) return { handle, info }
  await handle.close()
  throw errors.conflict(`${abs} is not a regular file.`, 'not_a_regular_file')
}

function fileTooLarge(abs: string, size: number, maxBytes: number) {
  return errors.tooLarge(
    `${abs} is ${size} bytes, more than the ${maxBytes} bytes allowed inline; use the download endpoint (GET .../files/download?path=...) for large files.`,
    'file_too_large',
  )
}

/** A file's content inline: UTF-8 text when it is valid UTF-8 without NUL, else base64. */
export async function readFile(input: string, maxBytes = READ_DEFAULT_MAX_BYTES): Promise<FileContent> {
  const abs = resolvePath(input)
  const limit = Math.min(maxBytes, READ_CEILING_BYTES)
  const { handle, info } = await openRegular(abs)
  try {
    if (info.isDirectory()) throw errors.conflict(`${abs} is a folder; list it instead.`, 'is_a_directory')
    if (info.size > limit) throw fileTooLarge(abs, info.size, limit)
    // Read at most limit + 1 bytes: files in /proc report size 0, and a file may grow meanwhile.
    const chunks: Buffer[] = []
    let length = 0
    for (;;) {
      const want = Math.min(Math.max(info.size - length, 64 * 1024), limit + 1 - length)
      if (want <= 0) break
      const chunk = Buffer.allocUnsafe(want)
      const { bytesRead } = await handle.read(chunk, 0, want, null)
      if (bytesRead === 0) break
      chunks.push(chunk.subarray(0, bytesRead))
      length += bytesRead
    }
    if (length > limit) throw fileTooLarge(abs, length, limit)
    const data = Buffer.concat(chunks, length)
    const text = isUtf8(data) && !data.includes(0)
    return {
      path: abs,
      content: data.toString(text ? 'utf8' : 'base64'),
      encoding: text ? 'utf8' : 'base64',
      size: length,
    }
  } catch (err) {
    throw fsError(err, abs)
  } finally {
    await handle.close()
  }
}

/** A download: a file's bytes, or a folder as a gzipped tar made on the fly. */
export interface Download {
  kind: 'file' | 'dir'
  size?: number
  stream: Readable
}

/** Opens a path for streaming; the caller pipes `stream` and destroys it on abort. */
export async function openDownload(input: string): Promise<Download> {
  const abs = resolvePath(input)
  const { handle, info } = await openRegular(abs)
  if (info.isFile()) return { kind: 'file', size: info.size, stream: handle.createReadStream() }
  await handle.close()
  try {
    await access(abs, constants.R_OK | constants.X_OK)
  } catch (err) {
    throw fsError(err, abs)
  }
  const parent = abs === '/' ? '/' : path.posix.dirname(abs)
  const name = abs === '/' ? '.' : path.posix.basename(abs)
  const tar = spawn('tar', ['-czf', '-', '-C', parent, '--', name], {
    cwd: '/',
    env: TOOL_ENV,
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const stream = tar.stdout
  tar.once('error', (err) => stream.destroy(err))
  // A reader that goes away must not leave tar running.
  stream.once('close', () => {
    if (tar.exitCode === null && tar.signalCode === null) tar.kill('SIGKILL')
  })
  return { kind: 'dir', stream }
}

/** Options of an atomic write. */
export interface WriteOptions {
  mkdirs: boolean
  overwrite: boolean
  maxBytes?: number
  /** The body's declared length, when known, to refuse an oversized upload before reading it. */
  declaredBytes?: number
}

/**
 * Streams a body into a temporary dot-file next to the target and renames it into place, so
 * a reader never sees a half-written file. Any failure (abort, limit, full disk) removes it.
 */
export async function writeFile(input: string, body: Readable, opts: WriteOptions): Promise<WriteResult> {
  const abs = resolvePath(input)
  const limit = opts.maxBytes
  if (limit !== undefined && opts.declaredBytes !== undefined && opts.declaredBytes > limit) {
    throw errors.tooLarge(`The upload of ${abs} is larger than ${limit} bytes.`, 'file_too_large')
  }
  const dir = path.posix.dirname(abs)
  if (opts.mkdirs) await makeParents(dir)
  const existing = await lstat(abs).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw fsError(err, abs)
  })
  if (existing?.isDirectory()) throw errors.conflict(`${abs} is a folder.`, 'is_a_directory')
  if (existing && !opts.overwrite) throw errors.conflict(`${abs} already exists.`, 'already_exists')

  const base = path.posix.basename(abs).slice(0, 200)
  const temp = path.posix.join(dir, `.${base}.${randomBytes(6).toString('hex')}.part`)
  let handle: FileHandle
  try {
    handle = await open(temp, 'wx', 0o644)
  } catch (err) {
    throw fsError(err, errnoCode(err) === 'ENOENT' ? dir : abs)
  }
  let size = 0
  const limiter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length
      if (limit !== undefined && size > limit) {
        done(errors.tooLarge(`The upload of ${abs} is larger than ${limit} bytes.`, 'file_too_large'))
      } else done(null, chunk)
    },
  })
  // The body is piped (not part of the pipeline) so a failed write never destroys the request
  // before the clawlet has answered it.
  const onError = (err: Error) => limiter.destroy(err)
  const onClose = () => {
    if (!body.readableEnded)
      limiter.destroy(errors.conflict(`The upload of ${abs} was interrupted.`, 'upload_aborted'))
  }
  body.once('error', onError)
  body.once('close', onClose)
  body.pipe(limiter)
  try {
    // A replaced file keeps its permissions (the umask would otherwise trim them).
    if (existing?.isFile()) await handle.chmod(existing.mode & 0o7777)
    await pipeline(limiter, handle.createWriteStream())
    await rename(temp, abs)
    return { path: abs, size }
  } catch (err) {
    body.unpipe(limiter)
    await handle.close().catch(() => {})
    await unlink(temp).catch(() => {})
    const code = errnoCode(err)
    if (code === 'ENOSPC' || code === 'EDQUOT') throw diskFull(abs)
    throw fsError(err, abs)
  } finally {
    body.off('error', onError)
    body.off('close', onClose)
  }
}

async function makeParents(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true })
  } catch (err) {
    if (errnoCode(err) === 'EEXIST')
      throw errors.conflict(`${dir} exists and is not a folder.`, 'not_a_directory')
    throw fsError(err, dir)
  }
}

/** Creates a folder and its parents; an existing folder is fine. */
export async function makeDir(input: string): Promise<PathResult> {
  const abs = resolvePath(input)
  await makeParents(abs)
  return { path: abs }
}

/** Deletes a file, a link or a folder (a non-empty one only when recursive). */
export async function removePath(input: string, recursive: boolean): Promise<void> {
  const abs = resolvePath(input)
  if (isProtectedPath(abs)) throw errors.invalidPath(`Refusing to delete ${abs}.`)
  try {
    const info = await lstat(abs)
    if (!info.isDirectory()) await unlink(abs)
    else if (recursive) await rm(abs, { recursive: true })
    else await rmdir(abs)
  } catch (err) {
    throw fsError(err, abs)
  }
}

/** Moves or renames; creates the target's parents; across file systems it copies then deletes. */
export async function movePath(fromInput: string, toInput: string, overwrite = false): Promise<PathResult> {
  const from = resolvePath(fromInput)
  const to = resolvePath(toInput)
  if (isProtectedPath(from)) throw errors.invalidPath(`Refusing to move ${from}.`)
  if (isProtectedPath(to)) throw errors.invalidPath(`Refusing to replace ${to}.`)
  if (from === to) return { path: to }
  try {
    await lstat(from)
  } catch (err) {
    throw fsError(err, from)
  }
  const target = await lstat(to).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw fsError(err, to)
  })
  if (target && !overwrite) throw errors.conflict(`${to} already exists.`, 'already_exists')
  await makeParents(path.posix.dirname(to))
  try {
    await rename(from, to)
  } catch (err) {
    const code = errnoCode(err)
    if (code === 'EINVAL') throw errors.invalidPath(`Cannot move ${from} into itself (${to}).`)
    if (code !== 'EXDEV') throw fsError(err, code === 'EACCES' || code === 'EPERM' ? `${from} -> ${to}` : to)
    try {
      await cp(from, to, {
        recursive: true,
        force: overwrite,
        errorOnExist: !overwrite,
        verbatimSymlinks: true,
      })
      await rm(from, { recursive: true })
    } catch (copyErr) {
      throw fsError(copyErr, to)
    }
  }
  return { path: to }
}
