import { z } from 'zod'
import { GatewayState } from './gateway.js'

/**
 * The clawlet's wire protocol: HTTP/1.1 over the instance's Unix socket. These shapes are
 * also the public API's shapes for files and exec, so routes reuse them.
 */

/** Root of the agent's files inside every instance; relative paths resolve under it. */
export const WORKSPACE = '/workspace'

/** Most bytes kept of each of an exec's stdout and stderr; the rest is read and dropped. */
export const OUTPUT_CAP_BYTES = 16 * 1024 * 1024
/** Default and ceiling for inline reads: larger files go through the download endpoint. */
export const READ_DEFAULT_MAX_BYTES = 10 * 1024 * 1024
export const READ_CEILING_BYTES = 64 * 1024 * 1024

export const FileType = z.enum(['file', 'dir', 'symlink'])
export type FileType = z.infer<typeof FileType>

export const FileEntry = z.object({
  name: z.string(),
  path: z.string(),
  type: FileType,
  size: z.number().int(),
  modified_at: z.string(),
})
export type FileEntry = z.infer<typeof FileEntry>

export const FileList = z.object({ path: z.string(), entries: z.array(FileEntry) })
export type FileList = z.infer<typeof FileList>

export const Encoding = z.enum(['utf8', 'base64'])
export type Encoding = z.infer<typeof Encoding>

export const FileContent = z.object({
  path: z.string(),
  content: z.string(),
  encoding: Encoding,
  size: z.number().int(),
})
export type FileContent = z.infer<typeof FileContent>

export const WriteResult = z.object({ path: z.string(), size: z.number().int() })
export type WriteResult = z.infer<typeof WriteResult>

export const PathResult = z.object({ path: z.string() })
export type PathResult = z.infer<typeof PathResult>

export const ExecRequest = z.object({
  command: z
    .string()
    .min(1)
    .max(128 * 1024),
  timeout_ms: z.number().int().min(1).optional(),
  cwd: z.string().max(4096).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).optional(),
  stdin: z.string().optional(),
})
export type ExecRequest = z.infer<typeof ExecRequest>

export const ExecResult = z.object({
  stdout: z.string(),
  stderr: z.string(),
  exit_code: z.number().int().nullable(),
  timed_out: z.boolean(),
  duration_ms: z.number(),
  truncated: z.boolean().optional(),
})
export type ExecResult = z.infer<typeof ExecResult>

export const TerminalSessionInfo = z.object({
  id: z.string(),
  pid: z.number().int(),
  cols: z.number().int(),
  rows: z.number().int(),
  clients: z.number().int().describe('Sockets attached right now'),
  created_at: z.string(),
  last_activity_at: z.string(),
  exited: z.boolean(),
  exit_code: z.number().int().nullable(),
})
export type TerminalSessionInfo = z.infer<typeof TerminalSessionInfo>

/** `sleeping`: stopped on purpose (the instance is idle) until the control plane wakes it. */
export const DesktopStatus = z.enum(['off', 'starting', 'ready', 'restarting', 'failed', 'sleeping'])
export type DesktopStatus = z.infer<typeof DesktopStatus>

/** The desktop's readiness as the clawlet supervising it sees it. */
export const DesktopHealth = z.object({
  status: DesktopStatus,
  detail: z.string().optional(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  /** How long the last (re)start took to accept connections. */
  ready_ms: z.number().optional(),
  restarts: z.number().int().optional(),
})
export type DesktopHealth = z.infer<typeof DesktopHealth>

export const Health = z.object({
  ok: z.boolean(),
  pid: z.number().int(),
  uptime_ms: z.number(),
  version: z.string(),
  desktop: DesktopHealth.optional(),
  gateway: GatewayState.optional(),
})
export type Health = z.infer<typeof Health>
