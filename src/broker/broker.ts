import type { IncomingMessage, ServerResponse } from 'node:http'
import type { BrokerConfig } from '../config.js'
import type { Caller } from '../door/caller.js'
import { sendJson } from '../lib/http-body.js'
import type { Logger } from '../log.js'
import type { Store } from '../store/index.js'
import { assertPublicUrl, publicOnly } from './egress.js'
import { embeddingModelEntry, serveEmbeddings } from './embeddings.js'
import { BrokerError, causeOf, origin, readJson, upstreamMessage } from './protocol.js'
import { HOW_TO_CONFIGURE_MODEL, type Upstream, type UpstreamSource } from './upstream.js'
import { UsageMeter } from './usage.js'

/** The last failure the broker answered for an instance, so a turn can name it. */
export interface BrokerFailure {
  code: string
  message: string
  at: number
}

/** The one model id instances see; the broker maps it to the upstream's real model. */
const MODEL_ALIAS = 'default'

/**
 * The model broker: an OpenAI-compatible proxy (`/v1/chat/completions`, `/v1/embeddings`, `/v1/models`) that
 * adds the real provider credentials, applies its own timeouts (first byte, idle, total) so a
 * dead model fails fast and clearly, streams answers through, and meters tokens.
 */
export class ModelBroker {
  private readonly failures = new Map<string, BrokerFailure>()
  /** Failed model calls since the server started, by code (for GET /metrics). */
  readonly failureCounts = new Map<string, number>()
  private readonly meter: UsageMeter

  constructor(
    private readonly settings: UpstreamSource,
    store: Store,
    private readonly config: BrokerConfig,
    private readonly log: Logger,
  ) {
    this.meter = new UsageMeter(store, log)
  }

  /** The upstream for a user, or undefined when no model is configured. */
  upstreamFor(userId: string): Promise<Upstream | undefined> {
    return this.settings.upstreamFor(userId)
  }

  /** The failure answered to an instance since `sinceMs`, if any. */
  lastFailure(instanceId: string, sinceMs: number): BrokerFailure | undefined {
    const f = this.failures.get(instanceId)
    return f && f.at >= sinceMs ? f : undefined
  }

  /** Serves one request that came in on an instance's control socket under `/v1/`. */
  async handle(caller: Caller, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    try {
      if (req.method === 'GET' && path === '/v1/models') {
        const up = await this.settings.upstreamFor(caller.userId)
        if (!up) throw new BrokerError('model_not_configured', HOW_TO_CONFIGURE_MODEL)
        const embeddings = await this.settings.embeddingUpstreamFor(caller.userId)
        return sendJson(res, 200, {
          object: 'list',
          data: [
            { id: MODEL_ALIAS, object: 'model', owned_by: 'clawport' },
            ...(embeddings ? [embeddingModelEntry()] : []),
          ],
        })
      }
      if (req.method === 'POST' && path === '/v1/chat/completions') return await this.chat(caller, req, res)
      if (req.method === 'POST' && path === '/v1/embeddings')
        return await serveEmbeddings(
          { settings: this.settings, config: this.config, meter: this.meter },
          caller,
          req,
          res,
        )
      throw new BrokerError('not_found', `No broker route ${req.method} ${path}.`)
    } catch (err) {
      const e = err instanceof BrokerError ? err : new BrokerError('broker_error', 'The model broker failed.')
      if (!(err instanceof BrokerError))
        this.log.error({ err, instanceId: caller.instanceId }, 'broker request failed')
      if (e.status >= 500 || e.code === 'model_not_configured') this.fail(caller, e)
      if (!res.headersSent)
        sendJson(res, e.status, { error: { message: e.message, type: e.code, code: e.code } })
      else res.end()
    }
  }

  private fail(caller: Caller, e: BrokerError): void {
    this.failures.set(caller.instanceId, { code: e.code, message: e.message, at: Date.now() })
    this.failureCounts.set(e.code, (this.failureCounts.get(e.code) ?? 0) + 1)
    this.log.warn({ instanceId: caller.instanceId, code: e.code }, 'model call failed')
  }

  private async chat(caller: Caller, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const up = await this.settings.upstreamFor(caller.userId)
    if (!up) throw new BrokerError('model_not_configured', HOW_TO_CONFIGURE_MODEL)
    const body = await readJson(req)
    const stream = body.stream === true
    body.model = up.model
    if (stream) body.stream_options = { ...(body.stream_options as object | undefined), include_usage: true }
    const started = Date.now()
    const ctl = new AbortController()
    let why: BrokerError | undefined
    const cut = (e: BrokerError) => {
      why ??= e
      ctl.abort()
    }
    const secs = (ms: number) => `${Math.round(ms / 100) / 10} s`
    const total = setTimeout(
      () =>
        cut(
          new BrokerError(
            'upstream_timeout',
            `The model did not finish within ${secs(this.config.totalTimeoutMs)}.`,
          ),
        ),
      this.config.totalTimeoutMs,
    )
    let idle = setTimeout(
      () =>
        cut(
          new BrokerError(
            'upstream_timeout',
            `The model did not start answering within ${secs(this.config.firstByteTimeoutMs)}.`,
          ),
        ),
      this.config.firstByteTimeoutMs,
    )
    const bumpIdle = () => {
      clearTimeout(idle)
      idle = setTimeout(
        () =>
          cut(
            new BrokerError(
              'upstream_timeout',
              `The model stopped answering for ${secs(this.config.idleTimeoutMs)}.`,
            ),
          ),
        this.config.idleTimeoutMs,
      )
    }
    // The instance going away cancels the upstream call.
    res.once('close', () => {
      if (!res.writableFinished) ctl.abort()
    })
    const usage = this.meter.start(caller, up.model, started)
    try {
      let upstream: Response
      try {
        // A user's own upstream may only reach public addresses (unless the operator allows more).
        const guarded = up.source === 'user' && !this.config.modelPrivateUrls
        if (guarded) assertPublicUrl(up.baseUrl)
        upstream = await fetch(`${up.baseUrl.replace(/\/+$/, '')}/chat/completions`, {
          ...(guarded ? { dispatcher: publicOnly } : {}),
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: stream ? 'text/event-stream' : 'application/json',
            ...(up.apiKey ? { authorization: `Bearer ${up.apiKey}` } : {}),
          },
          body: JSON.stringify(body),
          signal: ctl.signal,
          // A redirect is never followed: its target would skip the checks the first URL passed.
          redirect: 'manual',
        })
      } catch (err) {
        throw (
          why ??
          new BrokerError(
            'upstream_unreachable',
            `The model at ${origin(up.baseUrl)} cannot be reached: ${causeOf(err)}.`,
          )
        )
      }
      bumpIdle()
      if (upstream.status >= 300 && upstream.status < 400) {
        await upstream.body?.cancel().catch(() => {})
        throw new BrokerError(
          'upstream_error',
          `The model answered ${upstream.status}, a redirect, which the broker does not follow: set the URL it points to.`,
        )
      }
      if (!upstream.ok) {
        const text = await upstream.text().catch(() => '')
        throw new BrokerError(
          'upstream_error',
          `The model answered ${upstream.status}: ${upstreamMessage(text)}`,
          upstream.status >= 500 ? undefined : upstream.status,
        )
      }
      res.writeHead(200, {
        'content-type':
          upstream.headers.get('content-type') ?? (stream ? 'text/event-stream' : 'application/json'),
        'cache-control': 'no-cache',
      })
      if (!upstream.body) return void res.end()
      try {
        for await (const chunk of upstream.body as unknown as AsyncIterable<Uint8Array>) {
          bumpIdle()
          usage.observe(chunk)
          if (!res.write(chunk)) await new Promise((r) => res.once('drain', r))
        }
      } catch (err) {
        const e = why ?? new BrokerError('upstream_error', `The model's answer broke off: ${causeOf(err)}.`)
        // Headers are out: the error goes in-band, the way OpenAI-compatible clients read it.
        if (stream)
          res.write(
            `data: ${JSON.stringify({ error: { message: e.message, type: e.code, code: e.code } })}\n\n`,
          )
        this.fail(caller, e)
        usage.finish('error')
        res.end()
        return
      }
      usage.finish('ok')
      res.end()
    } catch (err) {
      usage.finish(err instanceof BrokerError && err.code === 'upstream_timeout' ? 'timeout' : 'error')
      throw err
    } finally {
      clearTimeout(total)
      clearTimeout(idle)
    }
  }
}
