import https from 'node:https'
import type { EventBus } from '../../core/shared/index.js'
import { pinnedTls, type UrlTransport } from '../../door/transport.js'
import { AppError, errors } from '../../errors.js'
import { replicaCredential } from '../../runner/auth.js'
import { runnerHealthy } from '../../runner/health.js'
import type { Store } from '../../store/index.js'
import type { RunnerJobKind, RunnerRow } from '../../store/runners-store.js'

/** A call to a runner's endpoint that takes longer than this failed (its link is down). */
const CALL_TIMEOUT_MS = 10_000
/** Largest answer read from a runner's endpoint (a log read is the biggest). */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024
/** A job waits for its outcome this long (a start includes unpacking a disk); polled this often. */
const JOB_TIMEOUT_MS: Record<RunnerJobKind, number> = {
  provision: 300_000,
  start: 120_000,
  stop: 120_000,
  destroy: 300_000,
}
const JOB_POLL_MS = 500

/**
 * One runner as replicas see it: its endpoint (pinned certificate, the replicas' credential),
 * and its job queue in the shared database, for the lifecycle work on its instances.
 */
export class RemoteRunner {
  private readonly agent: https.Agent
  private readonly credential: string

  constructor(
    readonly row: RunnerRow,
    token: string,
    private readonly store: Store,
    private readonly bus: EventBus,
  ) {
    this.credential = replicaCredential(token)
    this.agent = new https.Agent({ keepAlive: true, maxFreeSockets: 16, ...pinnedTls(this.pinned) })
  }

  private get pinned(): NonNullable<UrlTransport['pinned']> {
    return { ca: this.row.cert_pem, fingerprint: this.row.cert_sha256 }
  }

  /** How a replica reaches one instance's clawlet on this runner. */
  clawlet(instanceId: string): UrlTransport {
    return {
      url: `${this.row.address}/v1/instances/${instanceId}/clawlet`,
      token: this.credential,
      pinned: this.pinned,
    }
  }

  /** One JSON call to the runner's endpoint; out of reach or failing, a `runner_unavailable`. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.row.address)
    const text = body === undefined ? undefined : JSON.stringify(body)
    return await new Promise<T>((resolve, reject) => {
      const req = https.request(
        url,
        {
          agent: this.agent,
          method,
          timeout: CALL_TIMEOUT_MS,
          headers: {
            authorization: `Bearer ${this.credential}`,
            ...(text === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = []
          let size = 0
          res.on('data', (c: Buffer) => {
            size += c.length
            if (size > MAX_ANSWER_BYTES) {
              req.destroy(new Error('its answer is too large'))
              return
            }
            chunks.push(c)
          })
          res.on('end', () => {
            let parsed: unknown
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'))
            } catch {
              return reject(this.unavailable('it answered something that is not JSON'))
            }
            if ((res.statusCode ?? 500) >= 300) {
              const message = (parsed as { message?: unknown })?.message
              return reject(
                this.unavailable(
                  `it answered ${res.statusCode}${typeof message === 'string' ? ` (${message})` : ''}`,
                ),
              )
            }
            resolve(parsed as T)
          })
          res.on('error', (err) => reject(this.unavailable(err.message)))
        },
      )
      req.on('timeout', () => req.destroy(new Error(`no answer within ${CALL_TIMEOUT_MS / 1000} s`)))
      req.on('error', (err) => reject(err instanceof AppError ? err : this.unavailable(err.message)))
      req.end(text)
    })
  }

  /**
   * Queues a lifecycle job for the runner and waits for its outcome (woken by the bus, polled
   * meanwhile). A runner whose heartbeat stopped gets none: the instance is out of reach.
   */
  async job(kind: RunnerJobKind, instanceId: string, input: object): Promise<Record<string, unknown>> {
    const current = await this.store.runners.get(this.row.id)
    if (!current) throw this.unavailable('it was removed')
    if (!runnerHealthy(current)) throw this.unavailable(`its heartbeat stopped at ${current.heartbeat_at}`)
    const id = await this.store.runners.enqueue({
      runner_id: this.row.id,
      instance_id: instanceId,
      kind,
      input,
      now: new Date().toISOString(),
    })
    let wake: () => void = () => {}
    const unsubscribe = this.bus.subscribe('runner_job_done', (done) => {
      if (done === String(id) || done === '*') wake()
    })
    try {
      await this.bus.publish('runner_job', this.row.id).catch(() => {})
      const deadline = Date.now() + JOB_TIMEOUT_MS[kind]
      for (;;) {
        const job = await this.store.runners.job(id)
        if (!job) throw this.unavailable(`job ${id} was dropped`)
        if (job.state === 'done') return job.output ?? {}
        if (job.state === 'failed') throw new Error(job.error ?? `the runner failed to ${kind} the instance`)
        if (Date.now() > deadline)
          throw this.unavailable(`it did not finish the ${kind} within ${JOB_TIMEOUT_MS[kind] / 1000} s`)
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, JOB_POLL_MS)
          wake = () => {
            clearTimeout(t)
            resolve()
          }
        })
      }
    } finally {
      unsubscribe()
    }
  }

  close(): void {
    this.agent.destroy()
  }

  private unavailable(reason: string): AppError {
    return errors.runnerUnavailable(this.row.name, reason)
  }
}
