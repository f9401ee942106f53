import type { FleetConfig, NetworkMode } from '../../config.js'
import { resourcesFromPlan } from '../../drivers/driver.js'
import { errors } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { InstanceRow, PlanRow, Store, UserRow } from '../../store/index.js'
import { allowedHostsFor, networkWithin } from '../instance-network.js'
import type { InviteService } from '../invites.js'
import { nowIso } from '../time.js'
import type { WarmPool } from '../warm-pool.js'
import type { InstanceLifecycle } from './lifecycle.js'
import { ADMISSION_LOCK, fleetFull } from './placement.js'

export interface CreateInstanceInput {
  invite_code?: string
  name?: string
  /** Absent: the plan's own. */
  network?: NetworkMode
  /** The names an `allowlist` network reaches; absent: the plan's defaults. */
  allowed_hosts?: string[]
}

/**
 * Who may have a new instance and which: the plan (a subscription or an invite), the plan's
 * instance limit, the host's capacity; a warm pooled instance when one fits, else a cold one.
 */
export class InstanceAdmission {
  constructor(
    private readonly store: Store,
    private readonly invites: InviteService,
    private readonly lifecycle: InstanceLifecycle,
    /** Absent in tools that only need the store. */
    private readonly pool: WarmPool | undefined,
    private readonly fleet: FleetConfig,
    private readonly log: Logger,
  ) {}

  async create(user: UserRow, input: CreateInstanceInput): Promise<InstanceRow> {
    const { row, pooled } = await this.store.transaction(async (tx) => {
      // First: creates on every replica check capacity and pick host uids one at a time.
      await tx.lock(ADMISSION_LOCK)
      const full = await fleetFull(tx, this.fleet)
      // A warm pooled instance needs no new capacity; without one a full host is a 503
      // before any invite is spent.
      if (full && !(await this.pool?.hasReady(tx))) throw errors.noCapacity()
      const plan = await this.planForCreate(tx, user.id, input.invite_code)
      const resources = resourcesFromPlan(plan)
      const network = networkWithin(plan, input.network)
      const allowedHosts = allowedHostsFor(plan, network, input.allowed_hosts)
      // Pooled instances run with their plan's defaults: an allowlist starts cold.
      // Rolled back with the transaction if the create fails: it stays the pool's.
      const claimed =
        network === 'allowlist' ? undefined : await this.pool?.take(tx, plan.name, resources, network)
      if (claimed) {
        const row = await tx.instances.update(claimed.id, {
          user_id: user.id,
          name: input.name ?? null,
          plan: plan.name,
          updated_at: nowIso(),
        })
        return { row: row as InstanceRow, pooled: true }
      }
      if (full) throw errors.noCapacity()
      const row = await this.lifecycle.insert(tx, {
        ownerId: user.id,
        resources,
        network,
        allowedHosts,
        name: input.name ?? null,
        plan: plan.name,
      })
      return { row, pooled: false }
    })
    if (pooled) {
      await this.lifecycle.handOver(row)
      this.log.info({ instanceId: row.id, userId: user.id }, 'instance created from the pool')
      this.pool?.refill()
      return row
    }
    this.log.info({ instanceId: row.id, userId: user.id }, 'instance created')
    this.lifecycle.launch(row)
    return row
  }

  private async planForCreate(tx: Store, userId: string, inviteCode?: string): Promise<PlanRow> {
    const sub = await tx.subscriptions.get(userId)
    const current = sub?.active ? await tx.plans.get(sub.plan) : undefined
    const count = await tx.instances.countByUser(userId)
    if (current && current.instance_limit > count) return current
    if (inviteCode) {
      const plan = await this.invites.redeem(tx, userId, inviteCode)
      if (plan.instance_limit > count) return plan
      throw errors.instanceLimit(plan.instance_limit, plan.name)
    }
    if (current && current.instance_limit > 0)
      throw errors.instanceLimit(current.instance_limit, current.name)
    throw errors.noSubscription()
  }
}
