import { AppError } from '../errors.js'
import type { Logger } from '../log.js'
import type { InstanceRow, Store } from '../store/index.js'
import type { InstanceService } from './instances.js'
import { asUser } from './scope.js'
import { POOL_USER_ID } from './warm-pool.js'

/** What happened to one instance in an operator's stop or start of everything. */
export interface FleetOutcome {
  id: string
  user_id: string
  from: string
  status: string
  error?: string
}

/** Instances stopped (or started) side by side: a stop is mostly waiting on a sandbox to end. */
const PARALLEL = 4

const SETTLING = new Set(['provisioning', 'starting', 'rebooting', 'stopping', 'deleting'])

/**
 * The operator's `stop --all` / `start --all`, for every user's instances at once. A stop
 * covers warm-pool instances too (so nothing of this data folder keeps running); a start only
 * users' instances that are stopped or failed (the pool warms its own).
 */
export class Fleet {
  constructor(
    private readonly store: Store,
    private readonly instances: InstanceService,
    private readonly log: Logger,
  ) {}

  /** The fleet of the wired services (so that routes never hold the store themselves). */
  static of(services: { store: Store; instances: InstanceService }, log: Logger): Fleet {
    return new Fleet(services.store, services.instances, log)
  }

  async stopAll(): Promise<FleetOutcome[]> {
    const rows = (await this.store.instances.listAll()).filter((r) => r.status !== 'stopped')
    return this.each(rows, 'stopped', (r) => this.instances.shutdown(asUser(r.user_id), r.id))
  }

  async startAll(): Promise<FleetOutcome[]> {
    const rows = (await this.store.instances.listAll()).filter(
      (r) => r.user_id !== POOL_USER_ID && (r.status === 'stopped' || r.status === 'error'),
    )
    return this.each(rows, 'ready', (r) => this.instances.start(asUser(r.user_id), r.id))
  }

  private async each(
    rows: InstanceRow[],
    want: string,
    act: (r: InstanceRow) => Promise<unknown>,
  ): Promise<FleetOutcome[]> {
    const out: FleetOutcome[] = []
    const queue = [...rows]
    const worker = async () => {
      for (let r = queue.shift(); r; r = queue.shift()) out.push(await this.one(r, want, act))
    }
    await Promise.all(Array.from({ length: Math.min(PARALLEL, rows.length) }, worker))
    return out.sort((a, b) => a.id.localeCompare(b.id))
  }

  private async one(
    row: InstanceRow,
    want: string,
    act: (r: InstanceRow) => Promise<unknown>,
  ): Promise<FleetOutcome> {
    const base = { id: row.id, user_id: row.user_id, from: row.status }
    try {
      // One in the middle of another change is acted on once that change settles.
      if (SETTLING.has(row.status)) await this.instances.waitSettled(row.id)
      const now = await this.store.instances.get(row.id)
      if (!now) return { ...base, status: 'deleted' }
      if (now.status !== want) {
        await act(now)
        await this.instances.waitSettled(row.id)
      }
      const after = await this.store.instances.get(row.id)
      const status = after?.status ?? 'deleted'
      if (status === want) return { ...base, status }
      return { ...base, status, error: after?.error ?? `ended ${status}, not ${want}` }
    } catch (err) {
      if (!(err instanceof AppError)) this.log.error({ err, instanceId: row.id }, 'fleet action failed')
      else this.log.warn({ instanceId: row.id, code: err.code }, 'fleet action refused')
      const after = await this.store.instances.get(row.id).catch(() => undefined)
      return { ...base, status: after?.status ?? 'unknown', error: (err as Error).message }
    }
  }
}
