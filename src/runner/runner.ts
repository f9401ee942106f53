import os from 'node:os'
import path from 'node:path'
import type { Config } from '../config.js'
import { KeyedLock } from '../core/keyed-lock.js'
import { createBus, type EventBus } from '../core/shared/index.js'
import type { InstanceSpec } from '../drivers/driver.js'
import { LocalDriver } from '../drivers/local/local-driver.js'
import type { Logger } from '../log.js'
import { openStore, type Store } from '../store/index.js'
import type { RunnerJobRow } from '../store/runners-store.js'
import { VERSION } from '../version.js'
import { replicaCredential, runnerCredential, runnerTokenProblem } from './auth.js'
import { runnerIdentity } from './cert.js'
import { forwardDoor, reportToControlPlane } from './door-forward.js'
import { createEndpoint } from './endpoint.js'
import { RUNNER_HEARTBEAT_MS } from './health.js'

/** Jobs are woken by the bus; this poll finds those whose wake-up was lost. */
const JOB_POLL_MS = 2_000
/** Jobs run at once (on different instances; one instance's run in order). */
const JOB_CONCURRENCY = 4
const JOB_RETENTION_MS = 24 * 3600_000

export interface RunnerOptions {
  /** The control plane, as instances' door calls reach it (any replica: a load balancer's URL). */
  server: URL
  token: string
  name: string
  listen: { host: string; port: number }
  /** Where replicas reach this runner's endpoint (`https://host:port`). */
  advertise: string
  memoryMb?: number
  maxInstances?: number
}

/** What a runner reports once it serves. */
export interface RunnerStarted {
  id: string
  name: string
  address: string
  requeued: number
  adopted: number
}

/**
 * One instance host: the local driver (bubblewrap sandboxes, disks, network policy) and the host
 * side of the instances' doors, registered in the shared database with a heartbeat. Lifecycle
 * work arrives as jobs it claims; replicas reach its instances through its endpoint. Out of
 * reach of the database or the control plane, it keeps its instances running.
 */
export class Runner {
  private store?: Store
  private bus?: EventBus
  private readonly driver: LocalDriver
  private endpoint?: ReturnType<typeof createEndpoint>
  private runnerId = ''
  private readonly timers: NodeJS.Timeout[] = []
  private readonly instanceLock = new KeyedLock()
  private running = 0
  private draining = false
  private closed = false
  private lastBeatOk = true

  constructor(
    private readonly config: Config,
    private readonly opts: RunnerOptions,
    private readonly log: Logger,
  ) {
    this.driver = new LocalDriver(config, log.child({ component: 'driver.local' }))
  }

  get id(): string {
    return this.runnerId
  }

  async start(): Promise<RunnerStarted> {
    const problem = runnerTokenProblem(this.opts.token)
    if (problem) throw new Error(problem)
    if (this.config.store.kind !== 'postgres')
      throw new Error("a runner needs the control plane's PostgreSQL: set CLAWPORT_DATABASE_URL")
    const caps = await this.driver.init()
    for (const note of caps.notes) this.log.warn({ note }, 'sandbox capability')
    // What this host did about a runaway workload goes to the instance's event log.
    this.driver.onRunaway((id, report) => {
      const runner = { id: this.runnerId, credential: runnerCredential(this.opts.token, this.runnerId) }
      reportToControlPlane(this.opts.server, runner, id, 'runaway', report).catch((err: unknown) =>
        this.log.warn({ err, instanceId: id }, 'runaway report not delivered'),
      )
    })
    const identity = await runnerIdentity(path.join(this.config.dataDir, 'runner'), this.opts.name)
    this.store = await openStore(this.config)
    this.bus = await createBus(this.config.store, this.log.child({ component: 'bus' }))
    const token = this.opts.token
    this.endpoint = createEndpoint({
      identity,
      credential: replicaCredential(token),
      driver: this.driver,
      log: this.log.child({ component: 'endpoint' }),
      doors: {
        open: (id, uid) => this.openDoor(id, uid),
        close: (id) => this.driver.closeDoor(id),
        alive: (id) => this.driver.doorAlive(id),
      },
      health: () => ({
        id: this.runnerId,
        name: this.opts.name,
        version: VERSION,
        jobs_running: this.running,
      }),
    })
    const endpoint = this.endpoint
    await new Promise<void>((resolve, reject) => {
      endpoint.once('error', reject)
      endpoint.listen(this.opts.listen.port, this.opts.listen.host, () => {
        endpoint.off('error', reject)
        resolve()
      })
    })
    const row = await this.store.runners.register({
      name: this.opts.name,
      address: this.opts.advertise,
      cert_sha256: identity.fingerprint,
      cert_pem: identity.cert,
      memory_mb: this.opts.memoryMb ?? defaultMemoryMb(),
      max_instances: this.opts.maxInstances ?? this.config.fleet.maxInstances,
      uid_base: this.config.driver.uidBase,
      labels: this.config.fleet.runnerLabels,
      version: VERSION,
      now: new Date().toISOString(),
    })
    this.runnerId = row.id
    const requeued = await this.store.runners.requeueClaimed(row.id)
    const adopted = await this.adopt()
    this.bus.subscribe('runner_job', (id) => {
      if (id === this.runnerId || id === '*') this.work()
    })
    this.every(RUNNER_HEARTBEAT_MS, () => this.beat())
    this.every(JOB_POLL_MS, () => this.work())
    this.every(3600_000, () =>
      this.store?.runners.prune(new Date(Date.now() - JOB_RETENTION_MS).toISOString()),
    )
    this.work()
    this.log.info({ runner: row.id, name: row.name, requeued, adopted }, 'runner ready')
    return { id: row.id, name: row.name, address: row.address, requeued, adopted }
  }

  /** Stops serving; the instances keep running (the next start re-adopts them). */
  async close(): Promise<void> {
    this.closed = true
    for (const t of this.timers) clearInterval(t)
    const endpoint = this.endpoint
    if (endpoint) {
      await new Promise<void>((resolve) => {
        endpoint.close(() => resolve())
        endpoint.closeAllConnections()
      })
    }
    await this.bus?.close()
    await this.store?.close()
  }

  private every(ms: number, fn: () => unknown): void {
    const t = setInterval(() => {
      void Promise.resolve()
        .then(fn)
        .catch((err: unknown) => this.log.warn({ err }, 'runner: periodic work failed'))
    }, ms)
    t.unref()
    this.timers.push(t)
  }

  private async beat(): Promise<void> {
    try {
      const known = await (this.store as Store).runners.beat(this.runnerId, new Date().toISOString())
      if (!known) this.log.error({ runner: this.runnerId }, 'this runner was removed; it takes no more work')
      if (!this.lastBeatOk) this.log.info('the database is reachable again')
      this.lastBeatOk = true
    } catch (err) {
      if (this.lastBeatOk)
        this.log.warn({ err }, 'heartbeat failed: the database is out of reach; instances keep running')
      this.lastBeatOk = false
    }
  }

  /** Opens the doors of this runner's running instances (after a restart). */
  private async adopt(): Promise<number> {
    const store = this.store as Store
    let adopted = 0
    for (const row of await store.instances.listAll()) {
      if (row.runner_id !== this.runnerId) continue
      const state = await this.driver.inspect(row.id).catch(() => ({ running: false }))
      if (!state.running) continue
      await this.openDoor(row.id, row.host_uid)
      adopted++
    }
    return adopted
  }

  private openDoor(id: string, hostUid: number): Promise<void> {
    const handler = forwardDoor(
      this.opts.server,
      { id: () => this.runnerId, credential: () => runnerCredential(this.opts.token, this.runnerId) },
      id,
      this.log.child({ component: 'door' }),
    )
    return this.driver.openDoor(id, hostUid, handler)
  }

  /** Claims and runs queued jobs until none is left (one pass at a time). */
  private work(): void {
    if (this.draining || this.closed || !this.runnerId) return
    this.draining = true
    void this.drainQueue()
      .catch((err: unknown) => this.log.warn({ err }, 'runner: cannot claim jobs now'))
      .finally(() => {
        this.draining = false
      })
  }

  private async drainQueue(): Promise<void> {
    const store = this.store as Store
    while (!this.closed && this.running < JOB_CONCURRENCY) {
      const job = await store.runners.claim(this.runnerId, new Date().toISOString())
      if (!job) return
      this.running++
      void this.instanceLock
        .run(job.instance_id, () => this.execute(job))
        .finally(() => {
          this.running--
          this.work()
        })
    }
  }

  private async execute(job: RunnerJobRow): Promise<void> {
    const store = this.store as Store
    const started = performance.now()
    let outcome: { ok: true; output: object } | { ok: false; error: string }
    try {
      outcome = { ok: true, output: await this.run(job) }
    } catch (err) {
      outcome = { ok: false, error: err instanceof Error ? err.message : String(err) }
      this.log.warn({ job: job.id, kind: job.kind, instanceId: job.instance_id, err }, 'runner job failed')
    }
    // The outcome must reach the database: retried until it does (the job stays claimed meanwhile).
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await store.runners.finish(job.id, outcome, new Date().toISOString())
        break
      } catch (err) {
        if (attempt === 0) this.log.warn({ err, job: job.id }, 'cannot record a job outcome yet; retrying')
        await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** attempt)))
      }
    }
    await this.bus?.publish('runner_job_done', String(job.id)).catch(() => {})
    this.log.debug(
      { job: job.id, kind: job.kind, ms: Math.round(performance.now() - started) },
      'runner job done',
    )
  }

  private async run(job: RunnerJobRow): Promise<object> {
    const id = job.instance_id
    switch (job.kind) {
      case 'provision':
        await this.driver.provision(specFrom(job))
        return {}
      case 'start':
        await this.driver.start(specFrom(job))
        return {}
      case 'stop': {
        const grace = job.input.grace_ms
        await this.driver.stop(id, typeof grace === 'number' ? grace : undefined)
        return {}
      }
      case 'destroy':
        await this.driver.closeDoor(id)
        await this.driver.destroy(id)
        return {}
      default: {
        const never: never = job.kind
        throw new Error(`unknown job kind ${String(never)}`)
      }
    }
  }
}

/** The spec a provision or start job carries; its id is the job's instance, whatever the input says. */
function specFrom(job: RunnerJobRow): InstanceSpec {
  return { ...(job.input.spec as InstanceSpec), id: job.instance_id }
}

/** The memory instances may reserve here: the host's, less a gigabyte for the host itself. */
function defaultMemoryMb(): number {
  return Math.max(512, Math.floor(os.totalmem() / 1024 / 1024) - 1024)
}
