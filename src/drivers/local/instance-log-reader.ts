import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'
import {
  LOG_LINE_CUT_MARK,
  LOG_LINE_MAX_CHARS,
  LOG_READ_MAX_BYTES,
  LOG_TAIL_MAX_LINES,
  type LogChunk,
  type LogRead,
  type LogSource,
} from '../instance-logs.js'
import type { InstanceLayout } from './layout.js'

/**
 * Root reads log files in folders the instance owns, so every file and every folder on the way
 * may be a symlink, a FIFO, a device, a hard link or huge. Each folder below a root-owned base
 * is opened through the descriptor of the one above it (/proc/self/fd/N/name, an openat) with
 * O_NOFOLLOW, the file itself must be a plain file with one name, and every read is bounded.
 */

const { O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY } = constants

/** The file of each source: a root-owned folder of the instance, then names below it. */
export function logLocation(layout: InstanceLayout, source: LogSource): { base: string; names: string[] } {
  switch (source) {
    case 'boot':
      return { base: layout.run, names: ['sandbox.log'] }
    case 'clawlet':
      return { base: layout.run, names: ['clawlet.log'] }
    case 'desktop':
      return { base: layout.run, names: ['desktop.log'] }
    case 'gateway':
      return { base: layout.home, names: ['.openclaw', 'logs', 'gateway.out'] }
  }
}

/** Opens base/names... without following a link anywhere below base; null when it is not a plain file. */
export function openInstanceFile(base: string, names: string[]): number | null {
  let dir: number
  try {
    dir = openSync(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
  } catch {
    return null
  }
  try {
    for (const [i, name] of names.entries()) {
      if (name === '' || name === '.' || name === '..' || name.includes('/')) return null
      const last = i === names.length - 1
      const flags = last ? O_RDONLY | O_NOFOLLOW | O_NONBLOCK : O_RDONLY | O_DIRECTORY | O_NOFOLLOW
      let fd: number
      try {
        fd = openSync(`/proc/self/fd/${dir}/${name}`, flags)
      } catch {
        return null
      }
      closeSync(dir)
      dir = fd
    }
    const st = fstatSync(dir)
    if (!st.isFile() || st.nlink !== 1) return null
    const fd = dir
    dir = -1
    return fd
  } finally {
    if (dir >= 0) closeSync(dir)
  }
}

function cut(line: string): string {
  return line.length > LOG_LINE_MAX_CHARS ? `${line.slice(0, LOG_LINE_MAX_CHARS)}${LOG_LINE_CUT_MARK}` : line
}

function readAt(fd: number, start: number, length: number): Buffer {
  const buf = Buffer.alloc(length)
  const n = readSync(fd, buf, 0, length, start)
  return buf.subarray(0, n)
}

const EMPTY: LogChunk = { lines: [], cursor: null, skippedBytes: 0 }

/** The last lines of a log, or what was appended after a follow's cursor; bounded either way. */
export function readInstanceLog(layout: InstanceLayout, read: LogRead): LogChunk {
  const { base, names } = logLocation(layout, read.source)
  const fd = openInstanceFile(base, names)
  if (fd === null) return EMPTY
  try {
    const st = fstatSync(fd)
    const ino = Number(st.ino)
    const size = st.size
    if (read.cursor === undefined) {
      const want = Math.min(Math.max(read.tail ?? 100, 0), LOG_TAIL_MAX_LINES)
      const start = Math.max(0, size - LOG_READ_MAX_BYTES)
      const lines = readAt(fd, start, size - start)
        .toString('utf8')
        .split('\n')
      // A read that starts mid-file starts mid-line: that piece is dropped.
      if (start > 0) lines.shift()
      if (lines.at(-1) === '') lines.pop()
      return {
        lines: want ? lines.slice(-want).map(cut) : [],
        cursor: { ino, offset: size },
        skippedBytes: 0,
      }
    }
    // A new file (rotated, replaced) or a shorter one (truncated) is read from its start.
    let offset = read.cursor && read.cursor.ino === ino && read.cursor.offset <= size ? read.cursor.offset : 0
    let skippedBytes = 0
    if (size - offset > LOG_READ_MAX_BYTES) {
      skippedBytes = size - LOG_READ_MAX_BYTES - offset
      offset = size - LOG_READ_MAX_BYTES
    }
    const buf = readAt(fd, offset, size - offset)
    const lastNl = buf.lastIndexOf(0x0a)
    let end: number
    if (lastNl >= 0) end = lastNl + 1
    else if (buf.length >= LOG_LINE_MAX_CHARS * 4) end = buf.length
    else return { lines: [], cursor: { ino, offset }, skippedBytes }
    const text = buf.subarray(0, end).toString('utf8')
    const lines = text.split('\n')
    if (lines.at(-1) === '') lines.pop()
    // After a skip the first piece is the end of a line whose start was passed over.
    if (skippedBytes > 0 && lines.length > 1) lines.shift()
    return { lines: lines.map(cut), cursor: { ino, offset: offset + end }, skippedBytes }
  } finally {
    closeSync(fd)
  }
}
