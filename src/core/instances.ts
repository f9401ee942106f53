import { randomUUID } from 'node:crypto'
import { ClawletClient, waitForHealth } from '../clawlet/client.js'
import type { GatewayState } from '../clawlet/gateway-protocol.js'
import type { Config, NetworkMode } from '../config.js'
import type { InstanceDriver, InstanceResources, InstanceSpec } from '../drivers/driver.js'
import { resourcesFromPlan, sameResources } from '../drivers/driver.js'
import { AppError, errors } from '../errors.js'
import type { Logger } from '../log.js'
import type { InstanceRow, PlanRow, Store, UserRow } from '../store/index.js'
import type { InstanceGateway } from './instance-gateway.js'
import { networkWithin } from './instance-network.js'
import type { Instance, InstanceStatus, InstanceStatusDetail } from './instance-types.js'
import type { InviteService } from './invites.js'
import { KeyedLock } from './keyed-lock.js'
import type { Actor, InstanceScope } from './scope.js'
import { Semaphore } from './semaphore.js'
import { nowIso } from './time.js'
import type { WarmPool } from './warm-pool.js'

const MONITOR_INTERVAL_MS = 2_000
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/**
 * A crashed sandbox is restarted unless it crashed this many times within the restart window
 * (`CLAWPORT_RESTART_WINDOW_MS`): then it is left in `error`. Crashes weeks apart never add up.
 */
const MAX_AUTO_RESTARTS = 3

export interface CreateInstanceInput {
  invite_code?: string
  name?: string
  /** Absent: the plan's own. */
  network?: NetworkMode
}

/** What an owner may change of an instance. */
export interface UpdateInstanceInput {
  network?: NetworkMode
}

/** The instance lifecycle: records in the store, sandboxes through the driver, health through the clawlet. */
export class InstanceService {
  private readonly clients = new Map<string, ClawletClient>()
  private readonly lock = new KeyedLock()
  private readonly tasks = new Set<Promise<unknown>>()
  /** Recent crash times per instance; a start, stop or reboot asked for clears them. */
  private readonly restarts = new Map<string, number[]>()
  /** Instances being checked for a dead sandbox, so that two checks never restart one twice. */
  private readonly checking = new Set<string>()
  private monitor?: NodeJS.Timeout
  private pool?: WarmPool
  /** Boots are staggered: several gateways starting at once starve a small host. */
  private readonly boots: Semaphore
  private readonly stopListeners = new Set<(id: string, reason: string) => void>()

  constructor(
    private readonly store: Store,
    private readonly driver: InstanceDriver,
    private readonly invites: InviteService,
    /** What an actor may reach: every lookup of an instance goes through it. */
    private readonly scope: InstanceScope,
    private readonly config: Config,
    private readonly log: Logger,
    /** The OpenClaw gateway steps of the lifecycle; absent in tools that only need the store. */
    private readonly gateway?: InstanceGateway,
  ) {
    this.boots = new Semaphore(config.bootConcurrency)
  }

  toPublic(row: InstanceRow): Instance {
    return {
      id: row.id,
      status: row.status as InstanceStatus,
      sandbox_id: `sbx_${row.id.replaceAll('-', '').slice(0, 16)}`,
      created_at: row.created_at,
      updated_at: row.updated_at,
      name: row.name,
      resources: JSON.parse(row.resources) as InstanceResources,
      network: row.network,
      started_at: row.started_at,
      error: row.error,
    }
  }

  /** The instances the actor may see: its user's, only its swarm's from inside a swarm member. */
  async list(actor: Actor): Promise<Instance[]> {
    const rows = await this.store.instances.listByUser(actor.user.id)
    return this.scope.filter(
      actor,
      rows.map((r) => this.toPublic(r)),
    )
  }

  /**
   * The actor's instance, or 404 whether it does not exist, belongs to someone else or is outside
   * the actor's scope. Every service that reaches an instance for someone comes through here.
   */
  async owned(actor: Actor, id: string): Promise<InstanceRow> {
    const row = UUID_RE.test(id) ? await this.store.instances.get(id.toLowerCase()) : undefined
    if (!row || row.user_id !== actor.user.id) throw errors.instanceNotFound(id)
    await this.scope.checkInstance(actor, row.id)
    return row
  }

  async get(actor: Actor, id: string): Promise<Instance> {
    return this.toPublic(await this.owned(actor, id))
  }

  /** Pooled instances to hand out at create; wired after construction. */
  setPool(pool: WarmPool): void {
    this.pool = pool
  }

  async create(user: UserRow, input: CreateInstanceInput): Promise<Instance> {
    const outcome = await this.store.transaction(async (tx) => {
      const full = (await tx.instances.countAll()) >= this.config.maxInstances
      // A warm pooled instance needs no new capacity; without one a full host is a 503
      // before any invite is spent.
      if (full && !this.pool?.hasReady()) throw errors.noCapacity()
      const plan = await this.planForCreate(tx, user.id, input.invite_code)
      const resources = resourcesFromPlan(plan)
      const network = networkWithin(plan, input.network)
      const pooled = await this.pool?.take(tx, resources, network)
      if (pooled) {
        const row = await tx.instances.update(pooled.id, {
          user_id: user.id,
          name: input.name ?? null,
          plan: plan.name,
          updated_at: nowIso(),
        })
        return { row: row as InstanceRow, pooled: true }
      }
      if (full) throw errors.noCapacity()
      return {
        row: await this.insert(tx, user.id, resources, network, input.name ?? null, plan.name),
        pooled: false,
      }
    })
    const { row } = outcome
    if (outcome.pooled) {
      // The model broker attributes calls by the instance's owner: reopen its door for the new one.
      await this.gateway?.detach(row.id)
      await this.gateway?.attach(row)
      this.log.info({ instanceId: row.id, userId: user.id }, 'instance created from the pool')
      this.pool?.refill()
      return this.toPublic(row)
    }
    this.log.info({ instanceId: row.id, userId: user.id }, 'instance created')
    this.provisionInBackground(row)
    return this.toPublic(row)
  }

  /** Creates an instance for an owner without plan checks (the warm pool's own instances). */
  async createFor(
    ownerId: string,
    resources: InstanceResources,
    network: NetworkMode,
    name: string | null,
  ): Promise<Instance> {
    const row = await this.store.transaction((tx) => this.insert(tx, ownerId, resources, network, name))
    this.provisionInBackground(row)
    return this.toPublic(row)
  }

  /** Waits for the lifecycle work queued on an instance, then returns its row. */
  async waitSettled(id: string): Promise<InstanceRow | undefined> {
    await this.lock.run(id, async () => {})
    return this.store.instances.get(id)
  }

  private async insert(
    tx: Store,
    ownerId: string,
    resources: InstanceResources,
    network: NetworkMode,
    name: string | null,
    plan: string | null = null,
  ): Promise<InstanceRow> {
    const at = nowIso()
    const row: InstanceRow = {
      id: randomUUID(),
      user_id: ownerId,
      name,
      status: 'provisioning',
      desired_state: 'running',
      host_uid: this.allocateUid(await tx.instances.usedHostUids()),
      resources: JSON.stringify(resources),
      plan,
      network,
      error: null,
      created_at: at,
      updated_at: at,
      started_at: null,
    }
    await tx.instances.insert(row)
    return row
  }

  private provisionInBackground(row: InstanceRow): void {
    this.background(row.id, async () => {
      await this.driver.provision(this.spec(row))
      await this.boot(row, 'provisioning')
    })
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

  private allocateUid(used: number[]): number {
    const taken = new Set(used)
    let uid = this.config.uidBase
    while (taken.has(uid)) uid++
    return uid
  }

  private spec(row: InstanceRow): InstanceSpec {
    return {
      id: row.id,
      hostUid: row.host_uid,
      resources: JSON.parse(row.resources) as InstanceResources,
      network: row.network,
    }
  }

  private async setStatus(
    id: string,
    status: InstanceStatus,
    extra: Partial<InstanceRow> = {},
  ): Promise<InstanceRow> {
    const row = await this.store.instances.update(id, { status, updated_at: nowIso(), ...extra })
    if (!row) throw errors.instanceNotFound(id)
    return row
  }

  /** Starts the sandbox and waits for its clawlet; ends in `ready` or `error`. */
  private async boot(row: InstanceRow, from: InstanceStatus): Promise<void> {
    const started = performance.now()
    try {
      row = await this.followPlan(row)
      await this.gateway?.attach(row)
      await this.driver.start(this.spec(row))
      await waitForHealth(this.client(row.id), this.config.readyTimeoutMs)
      // Ready means the agent answers too: its gateway takes seconds to boot, and several
      // booting at once starve the host, so they take turns.
      await this.boots.run(async () => this.gateway?.start(row))
      await this.setStatus(row.id, 'ready', { error: null, started_at: nowIso() })
      this.log.info(
        { instanceId: row.id, from, ms: Math.round(performance.now() - started) },
        'instance ready',
      )
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err)
      this.log.error({ instanceId: row.id, err }, 'instance failed to start')
      await this.driver.stop(row.id, 0).catch(() => {})
      await this.store.instances.update(row.id, { status: 'error', error: reason, updated_at: nowIso() })
    }
  }

  /**
   * An instance's resources follow the plan it was created under: when the operator changed
   * that plan, the new memory, CPU, process and disk limits apply from this start on (a disk
   * only ever grows). A plan that no longer exists leaves them as they are.
   */
  private async followPlan(row: InstanceRow): Promise<InstanceRow> {
    if (!row.plan) return row
    const plan = await this.store.plans.get(row.plan)
    if (!plan) return row
    if (row.network === 'public' && plan.network !== 'public') {
      // The operator took the plan's network away: the instance starts without.
      this.log.info({ instanceId: row.id, plan: plan.name }, 'instance network follows its plan')
      row = (await this.store.instances.update(row.id, { network: 'off', updated_at: nowIso() })) ?? row
    }
    const wanted = resourcesFromPlan(plan)
    if (sameResources(row.resources, wanted)) return row
    this.log.info(
      { instanceId: row.id, plan: plan.name, from: JSON.parse(row.resources), to: wanted },
      'instance resources follow its plan',
    )
    const updated =
      (await this.store.instances.update(row.id, {
        resources: JSON.stringify(wanted),
        updated_at: nowIso(),
      })) ?? row
    // The door listens in the instance's run folder, on its disk: closed for a moment, the disk
    // is idle and can grow before the sandbox starts (boot opens the door again).
    await this.gateway?.detach(row.id)
    await this.driver.provision(this.spec(updated))
    return updated
  }

  private background(id: string, fn: () => Promise<void>): void {
    const task = this.lock
      .run(id, fn)
      .catch((err) => this.log.error({ instanceId: id, err }, 'instance task failed'))
    this.tasks.add(task)
    void task.finally(() => this.tasks.delete(task))
  }

  private async transition(
    actor: Actor,
    id: string,
    allowed: InstanceStatus[],
    to: InstanceStatus,
    work: (row: InstanceRow) => Promise<void>,
    noop?: InstanceStatus,
  ): Promise<Instance> {
    const row = await this.owned(actor, id)
    if (noop && row.status === noop) return this.toPublic(row)
    if (!allowed.includes(row.status as InstanceStatus)) {
      throw errors.invalidState(`Instance ${row.id} is ${row.status}; wait until it settles and try again.`)
    }
    const next = await this.setStatus(row.id, to)
    this.background(row.id, () => work(next))
    return this.toPublic(next)
  }

  reboot(actor: Actor, id: string): Promise<Instance> {
    return this.transition(actor, id, ['ready', 'error', 'stopped'], 'rebooting', async (row) => {
      this.restarts.delete(row.id)
      await this.store.instances.update(row.id, { desired_state: 'running' })
      this.dropClient(row.id, 'is rebooting')
      await this.driver.stop(row.id)
      await this.boot(row, 'rebooting')
    })
  }

  shutdown(actor: Actor, id: string): Promise<Instance> {
    return this.transition(
      actor,
      id,
      ['ready', 'error'],
      'stopping',
      async (row) => {
        this.restarts.delete(row.id)
        await this.store.instances.update(row.id, { desired_state: 'stopped' })
        this.dropClient(row.id, 'is shutting down')
        await this.driver.stop(row.id)
        await this.setStatus(row.id, 'stopped', { started_at: null })
        this.log.info({ instanceId: row.id }, 'instance stopped')
      },
      'stopped',
    )
  }

  start(actor: Actor, id: string): Promise<Instance> {
    return this.transition(
      actor,
      id,
      ['stopped', 'error'],
      'starting',
      async (row) => {
        this.restarts.delete(row.id)
        await this.store.instances.update(row.id, { desired_state: 'running' })
        await this.driver.provision(this.spec(row))
        await this.boot(row, 'starting')
      },
      'ready',
    )
  }

  /** Changes what an instance's sandbox may reach, within its plan; only while it is stopped. */
  async update(actor: Actor, id: string, input: UpdateInstanceInput): Promise<Instance> {
    const { network } = input
    const row = await this.owned(actor, id)
    if (network === undefined || network === row.network) return this.toPublic(row)
    const plan = row.plan ? await this.store.plans.get(row.plan) : undefined
    networkWithin(plan, network)
    // Read and written in one transaction, so a start cannot slip in between the check and the change.
    const updated = await this.store.transaction(async (tx) => {
      const current = await tx.instances.get(row.id)
      if (!current) throw errors.instanceNotFound(id)
      if (current.status !== 'stopped') {
        throw errors.invalidState(
          `Instance ${row.id} is ${current.status}; shut it down to change its network, then start it again.`,
        )
      }
      return tx.instances.update(row.id, { network, updated_at: nowIso() })
    })
    if (!updated) throw errors.instanceNotFound(id)
    this.log.info({ instanceId: row.id, network }, 'instance network changed')
    return this.toPublic(updated)
  }

  /** Destroys the sandbox and its workspace, then forgets the instance. */
  async remove(actor: Actor, id: string): Promise<void> {
    const row = await this.owned(actor, id)
    await this.store.instances.update(row.id, {
      status: 'deleting',
      desired_state: 'deleted',
      updated_at: nowIso(),
    })
    await this.lock.run(row.id, () => this.destroy(row.id))
  }

  private async destroy(id: string): Promise<void> {
    this.dropClient(id, 'is being deleted')
    await this.gateway?.detach(id)
    await this.driver.destroy(id)
    await this.store.instances.remove(id)
    this.restarts.delete(id)
    this.log.info({ instanceId: id }, 'instance deleted')
  }

  async status(actor: Actor, id: string): Promise<InstanceStatusDetail> {
    const row = await this.owned(actor, id)
    const sandbox = await this.driver.inspect(row.id)
    let clawlet: InstanceStatusDetail['clawlet'] = { ok: false }
    let gatewayState: GatewayState | undefined
    let desktop: InstanceStatusDetail['desktop'] = {
      status: 'unknown',
      detail: 'the instance is not running',
    }
    if (sandbox.running) {
      const t = performance.now()
      try {
        const health = await this.client(row.id).health()
        gatewayState = health.gateway
        desktop = health.desktop ?? { status: 'not_installed', detail: 'this instance runs no desktop' }
        clawlet = { ok: true, latency_ms: Math.round((performance.now() - t) * 100) / 100 }
      } catch (err) {
        clawlet = { ok: false, error: err instanceof AppError ? err.message : 'unreachable' }
      }
    }
    const startedAt = row.status === 'ready' && row.started_at ? Date.parse(row.started_at) : null
    return {
      id: row.id,
      status: row.status as InstanceStatus,
      ready: row.status === 'ready' && clawlet.ok,
      uptime_ms: startedAt === null ? null : Date.now() - startedAt,
      sandbox,
      clawlet,
      gateway: this.gateway?.readiness(gatewayState) ?? {
        status: 'not_installed',
        detail: 'this instance runs no OpenClaw gateway',
      },
      desktop,
      error: row.error,
    }
  }

  /** The clawlet of a ready instance the caller owns; 409 when it is not ready. */
  async readyClient(actor: Actor, id: string): Promise<ClawletClient> {
    const row = await this.owned(actor, id)
    if (row.status !== 'ready') throw errors.instanceNotReady(row.id, row.status)
    return this.client(row.id)
  }

  private client(id: string): ClawletClient {
    let c = this.clients.get(id)
    if (!c) {
      const endpoint = this.driver.endpoint(id)
      c = new ClawletClient({
        socketPath: endpoint.socketPath,
        checkPeer: endpoint.checkPeer,
        label: id,
        onUnreachable: () => this.suspect(id),
      })
      this.clients.set(id, c)
    }
    return c
  }

  /** Forgets an instance's clawlet; with a reason, its open sockets are told it is going away. */
  private dropClient(id: string, reason?: string): void {
    this.clients.get(id)?.close()
    this.clients.delete(id)
    if (reason) for (const fn of this.stopListeners) fn(id, `instance ${id} ${reason}`)
  }

  /** Calls `fn` whenever an instance is stopped, rebooted, deleted or found dead. */
  onStop(fn: (id: string, reason: string) => void): void {
    this.stopListeners.add(fn)
  }

  /**
   * Re-adopts instances after a control-plane start: running sandboxes are taken back as they
   * are, interrupted work is finished, and instances that should run but do not are started.
   */
  async recover(): Promise<void> {
    for (const row of await this.store.instances.listAll()) {
      const status = row.status as InstanceStatus
      if (status === 'deleting') {
        this.background(row.id, () => this.destroy(row.id))
      } else if (status === 'stopping') {
        this.background(row.id, async () => {
          await this.driver.stop(row.id)
          await this.setStatus(row.id, 'stopped', { started_at: null })
        })
      } else if (row.desired_state === 'running' && status !== 'error') {
        const state = await this.driver.inspect(row.id)
        const healthy =
          state.running &&
          (await this.client(row.id)
            .health()
            .then(
              () => true,
              () => false,
            ))
        if (healthy) {
          // The instance's door back to the control plane died with the previous process.
          await this.gateway
            ?.attach(row)
            .catch((err: unknown) =>
              this.log.error({ instanceId: row.id, err }, 'control socket not reopened'),
            )
          if (status !== 'ready') await this.setStatus(row.id, 'ready', { error: null, started_at: nowIso() })
          this.log.info({ instanceId: row.id }, 'instance re-adopted')
        } else {
          await this.setStatus(row.id, 'starting')
          this.background(row.id, async () => {
            await this.driver.stop(row.id, 0)
            await this.driver.provision(this.spec(row))
            await this.boot(row, 'starting')
          })
        }
      }
    }
  }

  /** Watches ready instances and restarts a sandbox that died by itself. */
  startMonitor(): void {
    this.monitor = setInterval(() => void this.checkAll(), MONITOR_INTERVAL_MS)
    this.monitor.unref()
  }

  private async checkAll(): Promise<void> {
    try {
      for (const row of await this.store.instances.listAll()) await this.checkOne(row)
    } catch (err) {
      this.log.error({ err }, 'instance monitor failed')
    }
  }

  /** A call found the clawlet unreachable: look at that instance now rather than at the next round. */
  private suspect(id: string): void {
    void (async () => {
      const row = await this.store.instances.get(id)
      if (row) await this.checkOne(row)
    })().catch((err: unknown) => this.log.error({ err, instanceId: id }, 'instance check failed'))
  }

  private async checkOne(row: InstanceRow): Promise<void> {
    if (row.status !== 'ready' || this.checking.has(row.id)) return
    this.checking.add(row.id)
    try {
      const state = await this.driver.inspect(row.id)
      if (state.running) return
      // Re-read: a stop or reboot asked for meanwhile is not a crash.
      const current = await this.store.instances.get(row.id)
      if (current?.status !== 'ready') return
      const now = Date.now()
      const recent = (this.restarts.get(row.id) ?? []).filter((t) => now - t < this.config.restartWindowMs)
      recent.push(now)
      this.restarts.set(row.id, recent)
      const n = recent.length
      const reason = `sandbox exited unexpectedly${state.reason ? ` (${state.reason})` : ''}`
      this.log.warn({ instanceId: row.id, reason, attempt: n }, 'instance sandbox died')
      this.dropClient(row.id, 'stopped unexpectedly')
      if (n > MAX_AUTO_RESTARTS) {
        // Nothing of it keeps running (orphans would hold its namespace's init).
        await this.driver.stop(row.id, 0)
        await this.setStatus(row.id, 'error', {
          error: `${reason}; gave up after ${MAX_AUTO_RESTARTS} restarts within ${Math.round(this.config.restartWindowMs / 1000)} s; start it again when the cause is fixed`,
        })
        return
      }
      await this.setStatus(row.id, 'starting', { error: reason })
      this.background(row.id, async () => {
        await this.driver.stop(row.id, 0)
        await this.boot(row, 'starting')
      })
    } finally {
      this.checking.delete(row.id)
    }
  }

  /** Stops watching and waits for lifecycle work in flight; sandboxes keep running. */
  async close(): Promise<void> {
    if (this.monitor) clearInterval(this.monitor)
    await Promise.allSettled([...this.tasks])
    for (const id of [...this.clients.keys()]) this.dropClient(id)
  }
}
