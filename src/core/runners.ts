import type { FleetConfig } from '../config.js'
import type { Caller as DoorCaller } from '../door/caller.js'
import { AppError, errors } from '../errors.js'
import { bearerMatches, RUNNER_HEADER, runnerCredential } from '../runner/auth.js'
import { runnerHealthy } from '../runner/health.js'
import type { Store } from '../store/index.js'
import type { RunnerRow, RunnerState } from '../store/runners-store.js'
import { localInstancesOn } from './instances/placement.js'

/** A runner as administrators see it. */
export interface RunnerView {
  id: string
  name: string
  address: string
  state: RunnerState
  health: 'healthy' | 'unresponsive'
  heartbeat_at: string
  registered_at: string
  version: string
  labels: Record<string, string>
  capacity: { memory_mb: number; instances: number }
  used: { memory_mb: number; instances: number }
}

export interface RunnersOverview {
  /** This server's own, in-process runner: whether it takes new instances, and what it holds. */
  local: { enabled: boolean; used: { memory_mb: number; instances: number } }
  runners: RunnerView[]
}

/** The runners: their health and load, drain and removal, and who may call an instance's door through them. */
export class RunnerService {
  constructor(
    private readonly store: Store,
    private readonly fleet: FleetConfig,
  ) {}

  async overview(): Promise<RunnersOverview> {
    const runners = await this.store.runners.list()
    const load = new Map((await this.store.runners.load()).map((l) => [l.runner_id, l]))
    const used = (id: string | null) => {
      const l = load.get(id)
      return { memory_mb: l?.memory_mb ?? 0, instances: l?.instances ?? 0 }
    }
    return {
      local: { enabled: localInstancesOn(this.fleet, runners), used: used(null) },
      runners: runners.map((r) => view(r, used(r.id))),
    }
  }

  /** A runner by id or by name; a 404 when none. */
  async find(idOrName: string): Promise<RunnerRow> {
    const row = (await this.store.runners.get(idOrName)) ?? (await this.store.runners.byName(idOrName))
    if (!row) throw errors.notFound(`No runner ${idOrName}.`)
    return row
  }

  /** Drains (no new instances; its own keep running) or undrains a runner. */
  async setState(idOrName: string, state: RunnerState): Promise<RunnerView> {
    const row = await this.find(idOrName)
    const updated = (await this.store.runners.setState(row.id, state)) ?? row
    const l = (await this.store.runners.load()).find((x) => x.runner_id === row.id)
    return view(updated, { memory_mb: l?.memory_mb ?? 0, instances: l?.instances ?? 0 })
  }

  /** Forgets a runner that holds no instance (a 409 while it holds some: their disks are there). */
  async remove(idOrName: string): Promise<void> {
    const row = await this.find(idOrName)
    const held = (await this.store.runners.load()).find((l) => l.runner_id === row.id)?.instances ?? 0
    if (held > 0)
      throw new AppError(
        'runner_has_instances',
        `Runner ${row.name} still holds ${held} instance${held === 1 ? '' : 's'}; delete them first (drain it to stop new ones).`,
        { details: { instances: held } },
      )
    await this.store.runners.remove(row.id)
  }

  /**
   * The instance a runner forwards a door call for, when the call carries that runner's
   * credential and the instance is the runner's; null otherwise (never say which part failed).
   */
  async doorCaller(
    headers: Record<string, string | string[] | undefined>,
    instanceId: string,
  ): Promise<DoorCaller | null> {
    const token = this.fleet.runnerToken
    const runnerId = headers[RUNNER_HEADER]
    const authorization = headers.authorization
    if (!token || typeof runnerId !== 'string' || typeof authorization !== 'string') return null
    if (!bearerMatches(authorization, runnerCredential(token, runnerId))) return null
    const row = await this.store.instances.get(instanceId)
    if (!row || row.runner_id !== runnerId) return null
    return { instanceId: row.id, userId: row.user_id }
  }
}

function view(r: RunnerRow, used: RunnerView['used']): RunnerView {
  return {
    id: r.id,
    name: r.name,
    address: r.address,
    state: r.state,
    health: runnerHealthy(r) ? 'healthy' : 'unresponsive',
    heartbeat_at: r.heartbeat_at,
    registered_at: r.registered_at,
    version: r.version,
    labels: r.labels,
    capacity: { memory_mb: r.memory_mb, instances: r.max_instances },
    used,
  }
}
