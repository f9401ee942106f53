import { z } from 'zod'
import { publicOnly } from '../broker/egress.js'
import type { Upstream } from '../broker/upstream.js'

const CHECK_TIMEOUT_MS = 10_000

/** What a connection test found. */
export const ModelCheck = z.object({
  ok: z.boolean(),
  status: z.number().int().nullable().describe('HTTP status of GET {base_url}/models, when one came'),
  latency_ms: z.number().int(),
  message: z.string(),
  model_listed: z.boolean().nullable().describe('Whether the model is among those the upstream lists'),
})
export type ModelCheck = z.infer<typeof ModelCheck>

/**
 * Asks an OpenAI-compatible upstream for its models: proves the URL, the key and the model name.
 * With `publicOnly`, the connection may only reach public addresses (a URL a user typed).
 */
export async function checkUpstream(
  upstream: Omit<Upstream, 'source'>,
  opts: { publicOnly?: boolean } = {},
): Promise<ModelCheck> {
  const started = Date.now()
  const base = upstream.baseUrl.replace(/\/+$/, '')
  const headers: Record<string, string> = { accept: 'application/json' }
  if (upstream.apiKey) headers.authorization = `Bearer ${upstream.apiKey}`
  try {
    const res = await fetch(`${base}/models`, {
      ...(opts.publicOnly ? { dispatcher: publicOnly } : {}),
      headers,
      signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
      redirect: 'error',
    })
    const latency_ms = Date.now() - started
    const body = (await res.json().catch(() => undefined)) as { data?: Array<{ id?: unknown }> } | undefined
    if (!res.ok) {
      const why =
        res.status === 401 || res.status === 403 ? 'the key was refused' : 'the upstream answered an error'
      return {
        ok: false,
        status: res.status,
        latency_ms,
        message: `${why} (HTTP ${res.status})`,
        model_listed: null,
      }
    }
    const ids = Array.isArray(body?.data) ? body.data.map((m) => String(m.id)) : undefined
    const listed = ids ? ids.includes(upstream.model) : null
    const message =
      listed === false
        ? `connected, but "${upstream.model}" is not among the ${ids?.length} models it lists`
        : `connected in ${latency_ms} ms`
    return { ok: listed !== false, status: res.status, latency_ms, message, model_listed: listed }
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } }
    const why =
      e.name === 'TimeoutError'
        ? `no answer within ${CHECK_TIMEOUT_MS / 1000} s`
        : e.cause?.code === 'EADDRNOTALLOWED'
          ? e.cause.message
          : (e.cause?.code ?? e.message)
    return {
      ok: false,
      status: null,
      latency_ms: Date.now() - started,
      message: `could not reach ${base}: ${why}`,
      model_listed: null,
    }
  }
}
