import { z } from 'zod'

/**
 * Where an instance's logs come from, each a file on the instance's own disk: `boot` the
 * sandbox's own output (bubblewrap, an early crash), `clawlet` the agent that runs it,
 * `gateway` OpenClaw's output, `desktop` the desktop's supervisor.
 */
export const LogSource = z.enum(['boot', 'clawlet', 'gateway', 'desktop'])
export type LogSource = z.infer<typeof LogSource>

/** Most lines one tail answers. */
export const LOG_TAIL_MAX_LINES = 1000
/** A longer line is cut here (characters), with LOG_LINE_CUT_MARK at its end. */
export const LOG_LINE_MAX_CHARS = 4096
export const LOG_LINE_CUT_MARK = ' [cut]'
/** Most bytes one read looks at: a tail reads no further back, a follow no more per look. */
export const LOG_READ_MAX_BYTES = 256 * 1024

/** Where a follow goes on: the file (by inode) and the offset read up to. */
export interface LogCursor {
  ino: number
  offset: number
}

/** What one read of an instance log found. */
export interface LogChunk {
  lines: string[]
  /** Where the next read of a follow starts; null when there is no plain file to read. */
  cursor: LogCursor | null
  /** Bytes passed over without being read (a file that grew faster than a follow reads). */
  skippedBytes: number
}

/** A read of one log: its last `tail` lines, or what was written after `cursor`. */
export interface LogRead {
  source: LogSource
  tail?: number
  cursor?: LogCursor | null
}
