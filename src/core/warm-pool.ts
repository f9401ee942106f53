import type { Config, NetworkMode } from '../config.js'
import type { InstanceResources } from '../drivers/driver.js'
import { resourcesFromPlan, sameResources } from '../drivers/driver.js'
import type { Logger } from '../log.js'
import type { InstanceRow, Store } from '../store/index.js'
import type { AgentRunner } from './agent.js'
import type { InstanceLifecycle } from './instances/lifecycle.js'
import { nowIso } from './time.js'

/** The system account that owns pooled instances until a user claims one; it cannot sign in. */
export const POOL_USER_ID = 'clawport-pool'
const POOL_EMAIL = 'pool@clawport.invalid'
const WARMUP_SESSION = 'clawport-warmup'
const WARMUP_MESSAGE = 'Reply with the single word: ready'
const RETRY_MS = 10_000

/** What an administrator sees of the pool. */
export interface PoolStatus {
  size: number
  plan: string
  ready: number
  warming: number
}

/**
 * Ready, unassigned instances, so that creating one is instant: an OpenClaw gateway takes
 * seconds to boot. Refilled in the background one instance at a time; each gateway gets a
 * first turn before it joins, so a user's first turn is a warm one.
 */
export class WarmPool {
  private readonly warm = new Set<string>()
  private filling?: Promise<void>
  private closed = false
  private retry?: NodeJS.Timeout

  constructor(
    private readonly store: Store,
    private readonly lifecycle: InstanceLifecycle,
    private readonly agent: AgentRunner | undefined,
    private readonly config: Config,
    private readonly log: Logger,
  ) {}

  /** Creates the pool account if needed, takes back pooled instances that are ready, and fills. */
  async start(): Promise<void> {
    if (this.config.poolSize === 0) return
    if (!(await this.store.users.byId(POOL_USER_ID))) {
      const at = nowIso()
      await this.store.users.create({
        id: POOL_USER_ID,
        email: POOL_EMAIL,
        password_hash: null,
        is_admin: 0,
        created_at: at,
        updated_at: at,
      })
    }
    // Warm again after a restart, unless the pool's plan changed meanwhile (fill replaces those).
    const plan = this.config.plans.find((p) => p.name === this.config.poolPlan)
    for (const row of await this.store.instances.listByUser(POOL_USER_ID)) {
      if (row.status === 'ready' && plan && this.fits(row, resourcesFromPlan(plan), plan.network))
        this.warm.add(row.id)
    }
    this.refill()
  }

  async status(): Promise<PoolStatus> {
    const rows = this.config.poolSize ? await this.store.instances.listByUser(POOL_USER_ID) : []
    const ready = rows.filter((r) => r.status === 'ready' && this.warm.has(r.id)).length
    return { size: this.config.poolSize, plan: this.config.poolPlan, ready, warming: rows.length - ready }
  }

  /**
   * A warm pooled instance with exactly these resources and this network, if one is ready; call
   * inside the create transaction.
   */
  async take(
    tx: Store,
    resources: InstanceResources,
    network: NetworkMode,
  ): Promise<InstanceRow | undefined> {
    if (this.config.poolSize === 0) return undefined
    for (const row of await tx.instances.listByUser(POOL_USER_ID)) {
      if (row.status !== 'ready' || !this.warm.has(row.id)) continue
      if (!this.fits(row, resources, network)) continue
      this.warm.delete(row.id)
      return row
    }
    return undefined
  }

  /** Whether a pooled instance is what a create with these resources and network would make. */
  private fits(row: InstanceRow, resources: InstanceResources, network: NetworkMode): boolean {
    return row.network === network && sameResources(row.resources, resources)
  }

  /** True when a warm instance is waiting: creating from it needs no new capacity. */
  hasReady(): boolean {
    return this.warm.size > 0
  }

  /** Starts filling the pool in the background unless it is already being filled. */
  refill(): void {
    if (this.closed || this.config.poolSize === 0 || this.filling) return
    this.filling = this.fill()
      .catch((err: unknown) => {
        this.log.error({ err }, 'pool refill failed')
        this.retry = setTimeout(() => this.refill(), RETRY_MS)
        this.retry.unref()
      })
      .finally(() => {
        this.filling = undefined
      })
  }

  private async fill(): Promise<void> {
    const plan = this.config.plans.find((p) => p.name === this.config.poolPlan)
    if (!plan) return
    for (;;) {
      if (this.closed) return
      const rows = await this.store.instances.listByUser(POOL_USER_ID)
      for (const row of rows.filter((r) => r.status === 'error')) {
        this.log.warn({ instanceId: row.id, error: row.error }, 'pooled instance failed; replacing it')
        await this.lifecycle.remove(row.id)
      }
      // After a change of the pool's plan (its resources or network) a warm instance no create
      // would match only takes room: replace it.
      const want = resourcesFromPlan(plan)
      for (const row of rows.filter((r) => r.status !== 'error')) {
        if (this.fits(row, want, plan.network)) continue
        // No create takes it (take() matches exactly), so no race with one.
        this.warm.delete(row.id)
        this.log.info({ instanceId: row.id }, "pooled instance has another plan's limits; replacing it")
        await this.lifecycle.remove(row.id)
      }
      const live = (await this.store.instances.listByUser(POOL_USER_ID)).filter((r) => r.status !== 'error')
      if (live.length >= this.config.poolSize) return
      if ((await this.store.instances.countAll()) >= this.config.maxInstances) return
      const started = performance.now()
      const created = await this.lifecycle.create({
        ownerId: POOL_USER_ID,
        resources: want,
        network: plan.network,
        name: null,
        plan: null,
      })
      const row = await this.lifecycle.waitSettled(created.id)
      if (row?.status !== 'ready') continue
      await this.warmUp(row.id)
      this.warm.add(row.id)
      this.log.info(
        { instanceId: row.id, ms: Math.round(performance.now() - started) },
        'pooled instance warm',
      )
    }
  }

  /** One first turn, so the gateway has loaded what a turn needs; without a model it is skipped. */
  private async warmUp(instanceId: string): Promise<void> {
    if (!this.agent || this.config.gateway === 'off') return
    const signal = AbortSignal.timeout(60_000)
    try {
      for await (const e of this.agent.runTurn({
        instanceId,
        sessionKey: WARMUP_SESSION,
        message: WARMUP_MESSAGE,
        signal,
      })) {
        if (e.type === 'error') this.log.info({ instanceId, code: e.code }, 'warm-up turn skipped')
      }
    } catch (err) {
      this.log.warn({ instanceId, err }, 'warm-up turn failed')
    }
  }

  close(): void {
    this.closed = true
    if (this.retry) clearTimeout(this.retry)
  }
}
