import {
  closeSync,
  constants,
  fchownSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  unlinkSync,
} from 'node:fs'

/**
 * Root's calls on files in folders an instance can write. Such a file may be anything the
 * instance made it between two calls: a symlink to /etc/passwd, a hard link, a FIFO that
 * blocks an open forever, a file of any size. So: never follow, never block, look at what was
 * opened (not at the path) and bound every read.
 */

const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY } = constants

/** Past this size the sandbox's log starts over at its next launch. */
export const SANDBOX_LOG_MAX_BYTES = 8 * 1024 * 1024

/** Whether an open descriptor is a plain file with one name (not a link to a file elsewhere). */
function plainFile(fd: number): boolean {
  const st = fstatSync(fd)
  return st.isFile() && st.nlink === 1
}

/**
 * Opens the sandbox's log for appending, owned by `uid` (when root), and returns the
 * descriptor. Whatever else is found at `file` (a symlink, a FIFO, a hard link to another
 * file) is unlinked, never opened, and a fresh file takes its place.
 */
export function openSandboxLog(file: string, uid: number | null): number {
  let fd: number | undefined
  try {
    fd = openSync(file, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK)
    if (!plainFile(fd)) {
      closeSync(fd)
      fd = undefined
    }
  } catch {
    fd = undefined
  }
  if (fd === undefined) {
    try {
      unlinkSync(file)
    } catch {}
    fd = openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o600)
  }
  try {
    if (fstatSync(fd).size > SANDBOX_LOG_MAX_BYTES) ftruncateSync(fd, 0)
    if (uid !== null) fchownSync(fd, uid, uid)
  } catch (err) {
    closeSync(fd)
    throw err
  }
  return fd
}

/** The last `maxBytes` of a file an instance can write, as text; '' when it is not a plain file. */
export function readTail(file: string, maxBytes = 64 * 1024): string {
  let fd: number
  try {
    fd = openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
  } catch {
    return ''
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) return ''
    const length = Math.min(st.size, maxBytes)
    const buf = Buffer.alloc(length)
    const n = readSync(fd, buf, 0, length, st.size - length)
    return buf.subarray(0, n).toString('utf8')
  } finally {
    closeSync(fd)
  }
}
