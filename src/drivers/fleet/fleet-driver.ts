import type { EventBus } from '../../core/shared/index.js'
import type { DoorHandler } from '../../door/listen.js'
import type { ClawletTransport } from '../../door/transport.js'
import { errors } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { Store } from '../../store/index.js'
import type {
  DriverCapabilities,
  InstanceDriver,
  InstanceSpec,
  RunawayReport,
  SandboxState,
} from '../driver.js'
import type { LogChunk, LogRead } from '../instance-logs.js'
import type { ResourceSample } from '../instance-metrics.js'
import { RemoteRunner } from './remote-runner.js'

/** A runner's row is re-read this often (a restarted runner may have moved or got a new certificate). */
const RUNNER_ROW_TTL_MS = 10_000

/**
 * Instances wherever they run: on this host through the local driver (the in-process runner,
 * `runner_id` null) or on a runner, through its job queue and its endpoint. An instance stays on
 * the runner holding its disk, so its runner is looked up once and kept.
 */
export class FleetDriver implements InstanceDriver {
  readonly name: string
  private readonly placed = new Map<string, string | null>()
  private readonly runners = new Map<string, { at: number; runner: RemoteRunner }>()

  constructor(
    private readonly local: InstanceDriver | undefined,
    private readonly store: Store,
    private readonly bus: EventBus,
    private readonly token: string | undefined,
    private readonly log: Logger,
  ) {
    this.name = local ? `${local.name}+runners` : 'runners'
  }

  async init(): Promise<DriverCapabilities> {
    if (this.local) return this.local.init()
    return { rootless: false, cgroup: 'none', diskQuota: false, notes: [] }
  }

  /** Remembers where a just-placed instance runs (before its row is committed). */
  place(instanceId: string, runnerId: string | null): void {
    this.placed.set(instanceId, runnerId)
  }

  /** Where an instance runs: a runner, or null for this host. */
  private async runnerIdOf(id: string): Promise<string | null> {
    const known = this.placed.get(id)
    if (known !== undefined) return known
    const row = await this.store.instances.get(id)
    const runnerId = row?.runner_id ?? null
    // A missing row is not remembered: it may be about to be committed.
    if (row) this.placed.set(id, runnerId)
    return runnerId
  }

  private async remote(runnerId: string): Promise<RemoteRunner> {
    const cached = this.runners.get(runnerId)
    if (cached && Date.now() - cached.at < RUNNER_ROW_TTL_MS) return cached.runner
    const row = await this.store.runners.get(runnerId)
    if (!row) throw errors.runnerUnavailable(runnerId, 'it was removed')
    if (!this.token) throw errors.runnerUnavailable(row.name, 'this server has no CLAWPORT_RUNNER_TOKEN')
    const same =
      cached && cached.runner.row.address === row.address && cached.runner.row.cert_sha256 === row.cert_sha256
    const runner = same && cached ? cached.runner : new RemoteRunner(row, this.token, this.store, this.bus)
    if (cached && !same) cached.runner.close()
    this.runners.set(runnerId, { at: Date.now(), runner })
    return runner
  }

  /** The local driver, or why there is none. */
  private host(): InstanceDriver {
    if (!this.local)
      throw errors.noRunner('this server runs no instances itself (CLAWPORT_LOCAL_INSTANCES=off)')
    return this.local
  }

  /** Calls `local` for this host's instances and `remote` for a runner's. */
  private async on<T>(
    id: string,
    local: (d: InstanceDriver) => Promise<T> | T,
    remote: (r: RemoteRunner) => Promise<T>,
  ): Promise<T> {
    const runnerId = await this.runnerIdOf(id)
    return runnerId === null ? local(this.host()) : remote(await this.remote(runnerId))
  }

  provision(spec: InstanceSpec): Promise<void> {
    return this.on(
      spec.id,
      (d) => d.provision(spec),
      async (r) => void (await r.job('provision', spec.id, { spec })),
    )
  }

  start(spec: InstanceSpec): Promise<ClawletTransport> {
    return this.on(
      spec.id,
      (d) => d.start(spec),
      async (r) => {
        await r.job('start', spec.id, { spec })
        return r.clawlet(spec.id)
      },
    )
  }

  stop(id: string, graceMs?: number): Promise<void> {
    return this.on(
      id,
      (d) => d.stop(id, graceMs),
      async (r) => void (await r.job('stop', id, { grace_ms: graceMs ?? null })),
    )
  }

  async destroy(id: string): Promise<void> {
    await this.on(
      id,
      (d) => d.destroy(id),
      async (r) => void (await r.job('destroy', id, {})),
    )
    this.placed.delete(id)
  }

  inspect(id: string): Promise<SandboxState> {
    return this.on(
      id,
      (d) => d.inspect(id),
      (r) => r.call<SandboxState>('GET', `/v1/instances/${id}/state`),
    )
  }

  endpoint(id: string): Promise<ClawletTransport> {
    return this.on(
      id,
      (d) => d.endpoint(id),
      async (r) => r.clawlet(id),
    )
  }

  /** A runner's instance's door is the runner's: the handler here is replaced by the control plane's route. */
  openDoor(id: string, hostUid: number, handler: DoorHandler): Promise<void> {
    return this.on(
      id,
      (d) => d.openDoor(id, hostUid, handler),
      async (r) => void (await r.call('PUT', `/v1/instances/${id}/door`, { host_uid: hostUid })),
    )
  }

  closeDoor(id: string): Promise<void> {
    return this.on(
      id,
      (d) => d.closeDoor(id),
      async (r) => void (await r.call('DELETE', `/v1/instances/${id}/door`)),
    )
  }

  doorAlive(id: string): Promise<boolean> {
    return this.on(
      id,
      (d) => d.doorAlive(id),
      // Out of reach is not dead: its door is the runner's, and it answers again with it.
      async (r) =>
        (await r.call<{ alive: boolean }>('GET', `/v1/instances/${id}/door`).catch(() => ({ alive: true })))
          .alive,
    )
  }

  async oomKills(id: string): Promise<number | null> {
    return this.on(
      id,
      async (d) => (await d.oomKills?.(id)) ?? null,
      async (r) => (await r.call<{ oom_kills: number | null }>('GET', `/v1/instances/${id}/oom`)).oom_kills,
    )
  }

  async readLog(id: string, read: LogRead): Promise<LogChunk> {
    return this.on(
      id,
      async (d) => {
        if (!d.readLog) throw errors.notSupported('instance logs')
        return d.readLog(id, read)
      },
      (r) => r.call<LogChunk>('POST', `/v1/instances/${id}/log`, read),
    )
  }

  async sampleResources(id: string): Promise<ResourceSample | null> {
    return this.on(
      id,
      async (d) => (await d.sampleResources?.(id)) ?? null,
      async (r) => (await r.call<{ usage: ResourceSample | null }>('GET', `/v1/instances/${id}/usage`)).usage,
    )
  }

  onRunaway(fn: (instanceId: string, report: RunawayReport) => void): void {
    this.local?.onRunaway?.(fn)
  }

  allocateUid(taken: number[]): number {
    return this.host().allocateUid(taken)
  }

  /** Closes the connections kept to runners. */
  close(): void {
    for (const { runner } of this.runners.values()) runner.close()
    this.runners.clear()
    this.log.debug('runner connections closed')
  }
}
