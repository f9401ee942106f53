import type { IncomingMessage } from 'node:http'
import { type ErrorCode, errorCode } from '../errors.js'
import { readBody } from '../lib/http-body.js'

const MAX_BODY_BYTES = 32 * 1024 * 1024

/** A failure the broker answers in OpenAI's error shape, with a registered code. */
export class BrokerError extends Error {
  readonly status: number

  /** `status` only passes on the model's own 4xx; otherwise the code's registered one. */
  constructor(
    readonly code: ErrorCode,
    message: string,
    status?: number,
  ) {
    super(message)
    this.status = status ?? errorCode(code).status
  }
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(
    req,
    MAX_BODY_BYTES,
    () => new BrokerError('payload_too_large', 'The model request is too large.'),
  )
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>
  } catch {}
  throw new BrokerError('invalid_request', 'The model request is not a JSON object.')
}

export function origin(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'the configured URL'
  }
}

export function causeOf(err: unknown): string {
  if (err instanceof Error && 'status' in err && 'code' in err) return err.message
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause
  if (cause?.code === 'EADDRNOTALLOWED') return cause.message ?? cause.code
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err))
}

export function upstreamMessage(text: string): string {
  try {
    const m = (JSON.parse(text) as { error?: { message?: string } }).error?.message
    if (m) return m.slice(0, 300)
  } catch {}
  return text.slice(0, 300) || 'no details'
}
