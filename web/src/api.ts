/** The dashboard's client of the Clawport API: the SDK on the same origin, the session cookie, the CSRF header. */
import { Clawport, ClawportError, errorFrom } from '@clawport/sdk/source'
import { plainMessage } from './errors'

export interface ApiErrorBody {
  message: string
  code: string
  status: number
  details?: Record<string, unknown>
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The server's own message, for logs; `message` is the sentence shown to people. */
    readonly serverMessage = message,
  ) {
    super(message)
  }
}

/** The CSRF token the server set in a readable cookie at sign-in. */
export function csrfToken(): string {
  const m = /(?:^|;\s*)clawport_csrf=([^;]*)/.exec(document.cookie)
  return m ? decodeURIComponent(m[1] ?? '') : ''
}

/** Headers every request carries; writes need the CSRF token. */
export function apiHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'x-csrf-token': csrfToken(), ...extra }
}

/** The SDK as the signed-in page: its own origin, the session cookie, the CSRF token on every request. */
export const sdk = new Clawport({ headers: () => apiHeaders(), credentials: 'same-origin' })

let onUnauthorized: () => void = () => {}
/** Called when the session is gone (401), so the app can show the sign-in page. */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn
}

/** The error of a non-2xx response made with fetch directly (streams), as the SDK reads it. */
export async function errorOf(res: Response): Promise<ApiError> {
  return apiError(await errorFrom(res))
}

/** The SDK's error with the sentence shown to people; a 401 means the session is gone. */
function apiError(err: ClawportError): ApiError {
  if (err.status === 401) onUnauthorized()
  return new ApiError(
    err.status,
    err.code,
    plainMessage(err.status, err.code, err.message, err.details),
    err.message,
  )
}

/** Calls the API with JSON in and out; throws ApiError with the server's message. */
export async function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  let res: Response
  try {
    // Paths here are concrete (ids and query filled in), not the document's typed templates.
    res = await sdk.send(method.toLowerCase() as 'get', path as never, { body, signal } as never)
  } catch (err) {
    throw err instanceof ClawportError ? apiError(err) : err
  }
  if (res.status === 204) return undefined as T
  const type = res.headers.get('content-type') ?? ''
  return (type.includes('json') ? await res.json() : await res.text()) as T
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>('GET', path, undefined, signal)
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {})
export const put = <T>(path: string, body?: unknown) => api<T>('PUT', path, body)
export const patch = <T>(path: string, body?: unknown) => api<T>('PATCH', path, body)
export const del = <T>(path: string) => api<T>('DELETE', path)

/** A query string from defined values. */
export function qs(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}

/** What an instance's sandbox may reach: the internet (never the host or private ranges), or nothing. */
export type NetworkMode = 'public' | 'allowlist' | 'off'

export interface Me {
  id: string
  email: string
  is_admin: boolean
  plan: string
  subscription_active: boolean
  instance_limit: number
  /** The most network the plan's instances may have, and a create's default. */
  network: NetworkMode
  usage: { instances: number }
  created_at: string
}

export interface SessionState {
  signed_in: boolean
  user: Me | null
  setup_required: boolean
  signup: 'open' | 'off'
}

export interface Instance {
  id: string
  status: string
  name?: string | null
  sandbox_id?: string
  created_at: string
  updated_at: string
  error?: string | null
  /** What its plan allots it. */
  resources?: { memory_mb: number; cpus: number; pids_max: number; disk_mb: number }
  network: NetworkMode
  /** Host names an `allowlist` network reaches. */
  allowed_hosts: string[]
}

export interface ApiKey {
  id: string
  name: string
  prefix: string
  created_at: string
  last_used_at: string | null
  expires_at: string | null
  key?: string
}

export interface FileEntry {
  name: string
  path: string
  type: 'file' | 'dir' | 'symlink'
  size: number
  modified_at: string
}

export interface ChatSession {
  id: string
  title: string | null
  created_at: string
  updated_at: string
  last_activity: string
}

export interface ChatMessage {
  id: string
  session_id: string
  seq: number
  role: 'user' | 'assistant' | 'tool' | 'system'
  content: string
  status: string
  tool?: { name: string; arguments: unknown; result?: unknown; call_id?: string }
  created_at: string
  updated_at: string
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}
