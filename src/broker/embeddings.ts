import type { IncomingMessage, ServerResponse } from 'node:http'
import type { BrokerConfig } from '../config.js'
import type { Caller } from '../door/caller.js'
import { EMBEDDING_MODEL_ALIAS } from '../wire/gateway.js'
import { assertPublicUrl, publicOnly } from './egress.js'
import { BrokerError, causeOf, origin, readJson, upstreamMessage } from './protocol.js'
import { HOW_TO_CONFIGURE_EMBEDDINGS, type UpstreamSource } from './upstream.js'
import type { UsageMeter } from './usage.js'

/** The most of an upstream's embeddings answer the broker holds (vectors of a large batch). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024

/**
 * `POST /v1/embeddings` for an instance's memory search: the user's or the operator's embedding
 * model, with the same credentials, egress rules, timeouts and metering as chat. Answers are
 * small and never streamed, so they are read whole (bounded) and passed on.
 */
export async function serveEmbeddings(
  ctx: { settings: UpstreamSource; config: BrokerConfig; meter: UsageMeter },
  caller: Caller,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const up = await ctx.settings.embeddingUpstreamFor(caller.userId)
  if (!up) throw new BrokerError('embedding_model_not_configured', HOW_TO_CONFIGURE_EMBEDDINGS)
  const body = await readJson(req)
  body.model = up.model
  const started = Date.now()
  const usage = ctx.meter.start(caller, up.model, started)
  usage.estimatePrompt(inputChars(body.input))
  const ctl = new AbortController()
  let why: BrokerError | undefined
  const secs = (ms: number) => `${Math.round(ms / 100) / 10} s`
  const cut = (e: BrokerError) => {
    why ??= e
    ctl.abort()
  }
  const { firstByteTimeoutMs: firstMs, totalTimeoutMs: totalMs } = ctx.config
  const first = setTimeout(
    () =>
      cut(new BrokerError('upstream_timeout', `The model did not start answering within ${secs(firstMs)}.`)),
    firstMs,
  )
  const total = setTimeout(
    () => cut(new BrokerError('upstream_timeout', `The model did not finish within ${secs(totalMs)}.`)),
    totalMs,
  )
  res.once('close', () => {
    if (!res.writableFinished) ctl.abort()
  })
  try {
    // A user's own upstream may only reach public addresses (unless the operator allows more).
    const guarded = up.source === 'user' && !ctx.config.modelPrivateUrls
    let upstream: Response
    try {
      if (guarded) assertPublicUrl(up.baseUrl)
      upstream = await fetch(`${up.baseUrl.replace(/\/+$/, '')}/embeddings`, {
        ...(guarded ? { dispatcher: publicOnly } : {}),
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(up.apiKey ? { authorization: `Bearer ${up.apiKey}` } : {}),
        },
        body: JSON.stringify(body),
        signal: ctl.signal,
        // A redirect is never followed: its target would skip the checks the first URL passed.
        redirect: 'manual',
      })
    } catch (err) {
      if (err instanceof BrokerError) throw err
      throw (
        why ??
        new BrokerError(
          'upstream_unreachable',
          `The model at ${origin(up.baseUrl)} cannot be reached: ${causeOf(err)}.`,
        )
      )
    }
    clearTimeout(first)
    if (upstream.status >= 300 && upstream.status < 400) {
      await upstream.body?.cancel().catch(() => {})
      throw new BrokerError(
        'upstream_error',
        `The model answered ${upstream.status}, a redirect, which the broker does not follow: set the URL it points to.`,
      )
    }
    const text = await readBounded(upstream).catch((err: unknown) => {
      throw (
        why ??
        (err instanceof BrokerError
          ? err
          : new BrokerError('upstream_error', `The model's answer broke off: ${causeOf(err)}.`))
      )
    })
    if (!upstream.ok)
      throw new BrokerError(
        'upstream_error',
        `The model answered ${upstream.status}: ${upstreamMessage(text)}`,
        upstream.status >= 500 ? undefined : upstream.status,
      )
    usage.observe(Buffer.from(text))
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
    usage.finish('ok')
  } catch (err) {
    usage.finish(err instanceof BrokerError && err.code === 'upstream_timeout' ? 'timeout' : 'error')
    throw err
  } finally {
    clearTimeout(first)
    clearTimeout(total)
  }
}

/** The characters to embed (a string or a list of strings; token arrays count one each). */
function inputChars(input: unknown): number {
  if (typeof input === 'string') return input.length
  if (Array.isArray(input))
    return input.reduce<number>(
      (n, v) => n + (typeof v === 'string' ? v.length : Array.isArray(v) ? v.length * 4 : 0),
      0,
    )
  return 0
}

async function readBounded(upstream: Response): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of (upstream.body ?? []) as unknown as AsyncIterable<Uint8Array>) {
    size += c.length
    if (size > MAX_ANSWER_BYTES) {
      await upstream.body?.cancel().catch(() => {})
      throw new BrokerError('upstream_error', 'The embeddings answer is larger than the broker accepts.')
    }
    chunks.push(Buffer.from(c))
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The `/v1/models` entry instances see when embeddings are served. */
export function embeddingModelEntry(): { id: string; object: 'model'; owned_by: 'clawport' } {
  return { id: EMBEDDING_MODEL_ALIAS, object: 'model', owned_by: 'clawport' }
}
