import { z } from 'zod'
import { type Config, NetworkMode, type PlanSpec } from '../config.js'
import type { InstanceResources } from '../drivers/driver.js'
import { resourcesFromPlan, sameResources } from '../drivers/driver.js'
import { AppError } from '../errors.js'
import type { Logger } from '../log.js'
import type { InstanceRow, Store } from '../store/index.js'
import type { AgentRunner } from './agent.js'
import type { InstanceLifecycle } from './instances/lifecycle.js'
import { ADMISSION_LOCK, fleetFull } from './instances/placement.js'
import { type PlanPool, planPools } from './pool-plans.js'
import type { Leadership } from './shared/locks.js'
import { nowIso } from './time.js'

/** The system account that owns pooled instances until a user claims one; it cannot sign in. */
export const POOL_USER_ID = 'clawport-pool'
const POOL_EMAIL = 'pool@clawport.invalid'
const WARMUP_SESSION = 'clawport-warmup'
const WARMUP_MESSAGE = 'Reply with the single word: ready'
const RETRY_MS = 10_000

/** What an administrator sees of one plan's pool. */
export const PlanPoolStatus = z.object({
  plan: z.string(),
  size: z.number().int().describe('Warm instances kept for this plan'),
  network: NetworkMode.describe(
    'The network its warm instances have: a create asking for another starts cold',
  ),
  ready: z.number().int(),
  warming: z.number().int(),
})
export type PlanPoolStatus = z.infer<typeof PlanPoolStatus>

/** Where the pool's instances are: one runner's (or this server's own) share. */
export const RunnerPoolStatus = z.object({
  runner_id: z.string().nullable().describe("The runner; null: this server's own instances"),
  runner: z.string().describe("Its name; `local` for this server's own"),
  ready: z.number().int(),
  warming: z.number().int(),
})

/** What an administrator sees of the pool: totals, then each plan's, then where they run. */
export const PoolStatus = z.object({
  size: z.number().int().describe('All plans together'),
  ready: z.number().int(),
  warming: z.number().int(),
  plans: z.array(PlanPoolStatus),
  runners: z
    .array(RunnerPoolStatus)
    .describe('Where the warm instances run: placement spreads them as it spreads any instance'),
})
export type PoolStatus = z.infer<typeof PoolStatus>

/**
 * Ready, unassigned instances of every plan, so that creating one is instant: an OpenClaw
 * gateway takes seconds to boot. Each pooled instance is made exactly as a cold create of its
 * plan would be (resources, network), so a claim changes nothing but its owner. Refilled in the
 * background, at most CLAWPORT_BOOT_CONCURRENCY at a time; each gateway gets a first turn before
 * it joins, so a user's first turn is a warm one. Which instances are warm is in the store
 * (`warm_at`), so a create on any replica claims one; the host's leader alone fills the pool.
 */
export class WarmPool {
  private readonly pools: PlanPool[]
  private filling?: Promise<void>
  private again = false
  private closed = false
  private retry?: NodeJS.Timeout
  private stopLeading?: () => void

  constructor(
    private readonly store: Store,
    private readonly lifecycle: InstanceLifecycle,
    private readonly agent: AgentRunner | undefined,
    private readonly config: Pick<Config, 'plans' | 'pool' | 'instances' | 'fleet' | 'gateway'>,
    private readonly log: Logger,
    /** The host's leadership; absent: this process is alone (tools, tests). */
    private readonly leadership?: Leadership,
  ) {
    this.pools = planPools(config)
  }

  /**
   * Creates the pool account if needed; while leading, takes back pooled instances that are
   * ready, fills, and looks again every few seconds (creates on other replicas claim too).
   */
  async start(): Promise<void> {
    if (!this.pools.some((p) => p.size > 0)) return
    if (!(await this.store.users.byId(POOL_USER_ID))) {
      const at = nowIso()
      await this.store.users
        .create({
          id: POOL_USER_ID,
          email: POOL_EMAIL,
          password_hash: null,
          is_admin: false,
          created_at: at,
          updated_at: at,
        })
        .catch(async (err: unknown) => {
          // Another replica starting at the same time made it first.
          if (!(await this.store.users.byId(POOL_USER_ID))) throw err
        })
    }
    if (!this.leadership) {
      await this.takeBack()
      this.refill()
      return
    }
    this.stopLeading = this.leadership.onLead(() => {
      void this.takeBack()
        .then(() => this.refill())
        .catch((err: unknown) => this.log.error({ err }, 'pool not taken back'))
      const timer = setInterval(() => this.refill(), RETRY_MS)
      timer.unref()
      return () => clearInterval(timer)
    })
  }

  /**
   * Warm again after a restart (or a leader's death), unless their plan changed meanwhile (fill
   * replaces those): a ready pooled instance's warm-up was cut, it needs none to be claimed.
   */
  private async takeBack(): Promise<void> {
    for (const row of await this.store.instances.listByUser(POOL_USER_ID)) {
      if (row.status === 'ready' && !row.warm_at && this.poolOf(row))
        await this.store.instances.update(row.id, { warm_at: nowIso() })
    }
  }

  private leads(): boolean {
    return this.leadership?.isLeader() ?? true
  }

  async status(): Promise<PoolStatus> {
    const rows = await this.store.instances.listByUser(POOL_USER_ID)
    const plans = this.pools.map(({ plan, size }): PlanPoolStatus => {
      const mine = rows.filter((r) => r.plan === plan.name)
      const ready = mine.filter((r) => r.status === 'ready' && r.warm_at).length
      return { plan: plan.name, size, network: plan.network, ready, warming: mine.length - ready }
    })
    const ready = plans.reduce((n, p) => n + p.ready, 0)
    const names = new Map((await this.store.runners.list()).map((r) => [r.id, r.name]))
    const byRunner = new Map<string | null, { ready: number; warming: number }>()
    for (const r of rows) {
      const at = byRunner.get(r.runner_id ?? null) ?? { ready: 0, warming: 0 }
      if (r.status === 'ready' && r.warm_at) at.ready++
      else at.warming++
      byRunner.set(r.runner_id ?? null, at)
    }
    const runners = [...byRunner].map(([id, n]) => ({
      runner_id: id,
      runner: id === null ? 'local' : (names.get(id) ?? id),
      ...n,
    }))
    return {
      size: plans.reduce((n, p) => n + p.size, 0),
      ready,
      warming: rows.length - ready,
      plans,
      runners,
    }
  }

  /**
   * Claims a warm instance of this plan with exactly these resources and this network, if one
   * is ready; call inside the create transaction: if it fails, the claim is rolled back with it.
   * One conditional update (SKIP LOCKED on PostgreSQL): two creates never claim one instance.
   */
  take(
    tx: Store,
    plan: string,
    resources: InstanceResources,
    network: NetworkMode,
  ): Promise<InstanceRow | undefined> {
    const match = { plan, network, resources: resourcesFromPlan(resources) }
    return tx.instances.claimWarm(POOL_USER_ID, match, { updated_at: nowIso() })
  }

  /** True when a warm instance is waiting: creating from it needs no new capacity. */
  async hasReady(tx: Store): Promise<boolean> {
    return (await tx.instances.listByUser(POOL_USER_ID)).some((r) => r.status === 'ready' && r.warm_at)
  }

  /**
   * Starts filling the pool in the background, on the host's leader only; a call while it fills
   * makes it look again.
   */
  refill(): void {
    if (this.closed || !this.pools.some((p) => p.size > 0) || !this.leads()) return
    if (this.filling) {
      this.again = true
      return
    }
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

  /** The pool a pooled instance belongs to, if it is still what a create of that plan makes. */
  private poolOf(row: InstanceRow): PlanPool | undefined {
    const pool = this.pools.find((p) => p.plan.name === row.plan && p.size > 0)
    return pool && fits(row, resourcesFromPlan(pool.plan), pool.plan.network) ? pool : undefined
  }

  private async fill(): Promise<void> {
    for (;;) {
      this.again = false
      if (this.closed || !this.leads()) return
      const rows = await this.sweep()
      // Round robin: every plan gets its first warm instance before any gets a second.
      const queue: PlanSpec[] = []
      const need = this.pools.map((p) => p.size - rows.filter((r) => r.plan === p.plan.name).length)
      for (let round = 0; round < Math.max(0, ...need); round++) {
        this.pools.forEach((p, i) => {
          if ((need[i] ?? 0) > round) queue.push(p.plan)
        })
      }
      if (!queue.length && !this.again) return
      let failed = 0
      let full = false
      const worker = async () => {
        for (let plan = queue.shift(); plan && !this.closed && !full; plan = queue.shift()) {
          const outcome = await this.warmOne(plan)
          if (outcome === 'full') full = true
          else if (outcome === 'failed') failed++
        }
      }
      const workers = Math.min(this.config.instances.bootConcurrency, queue.length)
      await Promise.all(Array.from({ length: workers }, worker))
      if (failed) throw new Error(`${failed} pooled instance(s) did not become ready`)
      // The host is at CLAWPORT_MAX_INSTANCES: the next claim or delete refills.
      if (full) return
    }
  }

  /** Removes pooled instances that failed or that no create would claim; returns the rest. */
  private async sweep(): Promise<InstanceRow[]> {
    const rows = await this.store.instances.listByUser(POOL_USER_ID)
    const kept: InstanceRow[] = []
    for (const row of rows) {
      const surplus =
        Boolean(row.warm_at) &&
        kept.filter((k) => k.plan === row.plan).length >= (this.poolOf(row)?.size ?? 0)
      if (row.status === 'error') {
        this.log.warn({ instanceId: row.id, error: row.error }, 'pooled instance failed; replacing it')
      } else if (!this.poolOf(row)) {
        // After a change of its plan (its resources or network) no create matches it, so no
        // create can be claiming it: it only takes room.
        this.log.info({ instanceId: row.id }, "pooled instance has another plan's limits; replacing it")
      } else if (surplus) {
        this.log.info({ instanceId: row.id, plan: row.plan }, 'pool is smaller now; removing a warm instance')
      } else {
        kept.push(row)
        continue
      }
      // A warm one is claimed first: a create on another replica may be taking it right now.
      if (row.warm_at && !(await this.store.instances.claimWarm(POOL_USER_ID, { id: row.id }, {}))) continue
      await this.lifecycle.remove(row.id)
    }
    return kept
  }

  /** Boots one instance of the plan into the pool. */
  private async warmOne(plan: PlanSpec): Promise<'warm' | 'failed' | 'full'> {
    const started = performance.now()
    // As a create does: capacity and host uid are checked and taken under the admission lock.
    const created = await this.store.transaction(async (tx) => {
      await tx.lock(ADMISSION_LOCK)
      if (await fleetFull(tx, this.config.fleet)) return undefined
      return this.lifecycle
        .insert(tx, {
          ownerId: POOL_USER_ID,
          resources: resourcesFromPlan(plan),
          network: plan.network,
          name: null,
          plan: plan.name,
        })
        .catch((err: unknown) => {
          // No runner has room: the pool is full, as a full host would be.
          if (err instanceof AppError && err.code === 'no_runner') return undefined
          throw err
        })
    })
    if (!created) return 'full'
    this.lifecycle.launch(created)
    const row = await this.lifecycle.waitSettled(created.id)
    if (row?.status !== 'ready') return 'failed'
    await this.warmUp(row.id)
    // Only if it is still the pool's and ready: it may have failed or gone meanwhile.
    const warm = await this.store.instances.get(row.id)
    if (warm?.user_id !== POOL_USER_ID || warm.status !== 'ready') return 'failed'
    await this.store.instances.update(row.id, { warm_at: nowIso() })
    this.log.info(
      { instanceId: row.id, plan: plan.name, ms: Math.round(performance.now() - started) },
      'pooled instance warm',
    )
    return 'warm'
  }

  /** One first turn, so the gateway has loaded what a turn needs; without a model it is skipped. */
  private async warmUp(instanceId: string): Promise<void> {
    if (!this.agent || !this.config.gateway.enabled) return
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
    this.stopLeading?.()
    if (this.retry) clearTimeout(this.retry)
  }
}

/** Whether a pooled instance is what a create with these resources and network would make. */
function fits(row: InstanceRow, resources: InstanceResources, network: NetworkMode): boolean {
  return row.network === network && sameResources(row.resources, resources)
}
