import { randomUUID } from 'node:crypto'
import type { Config, NetworkMode } from '../../config.js'
import { type ClawletClient, waitForHealth } from '../../door/clawlet/client.js'
import type { InstanceDriver, InstanceResources } from '../../drivers/driver.js'
import { resourcesFromPlan, sameResources } from '../../drivers/driver.js'
import { AppError, errors } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { InstanceRow, Store } from '../../store/index.js'
import type { BootStep } from '../events/transition-events.js'
import type { InstanceGateway } from '../instance-gateway.js'
import { allowedHostsFor, networkUnder, networkWithin } from '../instance-network.js'
import type { InstanceStatus, InstanceStatusDetail } from '../instance-types.js'
import { KeyedLock } from '../keyed-lock.js'
import { Semaphore } from '../semaphore.js'
import { nowIso } from '../time.js'
import { ClawletClients } from './clients.js'
import { placeInstance } from './placement.js'
import { specOf } from './rows.js'
import { statusDetail } from './status.js'
import { ACTIONS, type InstanceAction, StatusWriter, type TransitionListener } from './transitions.js'

/** What a new instance is made of. */
export interface NewInstance {
  ownerId: string
  resources: InstanceResources
  network: NetworkMode
  /** Checked host names of an `allowlist` network; absent: none. */
  allowedHosts?: string[]
  name: string | null
  /** The plan it follows from then on; null: none (it keeps these resources). */
  plan: string | null
}

/**
 * One instance's life: records in the store, the sandbox through the driver, health through the
 * clawlet. Work on one instance is serialised; every status change goes through `StatusWriter`.
 */
export class InstanceLifecycle {
  private readonly lock = new KeyedLock()
  private readonly tasks = new Set<Promise<unknown>>()
  /** Boots are staggered per host: several gateways starting at once starve it (by runner; `local`). */
  private readonly boots = new Map<string, Semaphore>()
  private readonly statuses: StatusWriter
  private readonly stopListeners = new Set<(id: string, reason: string) => void>()
  private readonly bootFailureListeners = new Set<(id: string, err: unknown, step: BootStep) => void>()
  readonly clients: ClawletClients

  constructor(
    private readonly store: Store,
    private readonly driver: InstanceDriver,
    private readonly config: Pick<Config, 'instances' | 'fleet' | 'plans'>,
    private readonly log: Logger,
    /** The OpenClaw gateway steps of the lifecycle; absent in tools that only need the store. */
    private readonly gateway?: InstanceGateway,
  ) {
    this.statuses = new StatusWriter(store, log)
    this.clients = new ClawletClients(driver)
  }

  /** Calls `listener` after every stored status change, in order; its errors are only logged. */
  onTransition(listener: TransitionListener): void {
    this.statuses.listen(listener)
  }

  /** Calls `fn` when a boot fails, with the step it was at, before the instance is left in `error`. */
  onBootFailure(fn: (id: string, err: unknown, step: BootStep) => void): void {
    this.bootFailureListeners.add(fn)
  }

  /** Calls `fn` whenever an instance is stopped, rebooted, deleted or found dead. */
  onStop(fn: (id: string, reason: string) => void): void {
    this.stopListeners.add(fn)
  }

  /** Records a new instance (`provisioning`) inside `tx`; `launch` it once `tx` is committed. */
  async insert(tx: Store, n: NewInstance): Promise<InstanceRow> {
    const at = nowIso()
    const placed = await placeInstance(
      tx,
      this.config,
      (taken) => this.driver.allocateUid(taken),
      n.resources,
      n.plan,
    )
    const id = randomUUID()
    this.driver.place?.(id, placed.runner_id)
    const row: InstanceRow = {
      id,
      user_id: n.ownerId,
      name: n.name,
      status: 'provisioning',
      desired_state: 'running',
      host_uid: placed.host_uid,
      runner_id: placed.runner_id,
      resources: n.resources,
      plan: n.plan,
      network: n.network,
      allowed_hosts: n.allowedHosts ?? [],
      error: null,
      created_at: at,
      updated_at: at,
      started_at: null,
    }
    await tx.instances.insert(row)
    return row
  }

  /** Provisions and boots a just-inserted instance in the background. */
  launch(row: InstanceRow): void {
    this.statuses.created(row)
    this.background(row.id, async () => {
      await this.driver.provision(specOf(row))
      await this.boot(row, 'provisioning')
    })
  }

  /** Creates and launches an instance for an owner, without plan checks. */
  async create(n: NewInstance): Promise<InstanceRow> {
    const row = await this.store.transaction((tx) => this.insert(tx, n))
    this.launch(row)
    return row
  }

  /** Waits for the lifecycle work queued on an instance, then returns its row. */
  async waitSettled(id: string): Promise<InstanceRow | undefined> {
    await this.lock.run(id, async () => {})
    return this.store.instances.get(id)
  }

  /** Runs `fn` under the instance's lock: it never overlaps other lifecycle work on it. */
  exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(id, fn)
  }

  /** Writes a status change (reported to transition listeners); undefined when the row is gone. */
  setStatus(
    id: string,
    to: InstanceStatus,
    extra: Partial<InstanceRow> = {},
    reason: string | null = null,
  ): Promise<InstanceRow | undefined> {
    return this.statuses.set(id, to, extra, reason)
  }

  /** The instance's clawlet client, whatever its status. */
  clawlet(id: string): ClawletClient {
    return this.clients.get(id)
  }

  /** A running instance changed owner: its door attributes calls by owner, so it is reopened. */
  async handOver(row: InstanceRow): Promise<void> {
    await this.gateway?.detach(row.id)
    await this.gateway?.attach(row)
  }

  /** Starts an asked-for action (see ACTIONS); it finishes in the background. */
  async act(row: InstanceRow, action: InstanceAction): Promise<InstanceRow> {
    const rule: { from: readonly InstanceStatus[]; via: InstanceStatus; done?: InstanceStatus } =
      ACTIONS[action]
    if (rule.done && row.status === rule.done) return row
    if (!rule.from.includes(row.status as InstanceStatus)) {
      throw errors.invalidState(`Instance ${row.id} is ${row.status}; wait until it settles and try again.`)
    }
    const next = await this.statuses.set(row.id, rule.via)
    if (!next) throw errors.instanceNotFound(row.id)
    this.background(row.id, () => this.work[action](next))
    return next
  }

  private readonly work: Record<InstanceAction, (row: InstanceRow) => Promise<void>> = {
    reboot: async (row) => {
      await this.store.instances.update(row.id, { desired_state: 'running' })
      this.lost(row.id, 'is rebooting')
      await this.driver.stop(row.id)
      await this.boot(row, 'rebooting')
    },
    shutdown: async (row) => {
      await this.store.instances.update(row.id, { desired_state: 'stopped' })
      this.lost(row.id, 'is shutting down')
      await this.driver.stop(row.id)
      await this.statuses.set(row.id, 'stopped', { started_at: null })
      this.log.info({ instanceId: row.id }, 'instance stopped')
    },
    start: async (row) => {
      await this.store.instances.update(row.id, { desired_state: 'running' })
      await this.driver.provision(specOf(row))
      await this.boot(row, 'starting')
    },
  }

  /**
   * Changes what an instance's sandbox may reach (its mode, its allowlist's names), within its
   * plan; only while it is stopped.
   */
  async changeNetwork(
    row: InstanceRow,
    network: NetworkMode,
    hosts?: readonly string[],
  ): Promise<InstanceRow> {
    const plan = row.plan ? await this.store.plans.get(row.plan) : undefined
    networkWithin(plan, network)
    const allowed = allowedHostsFor(plan, network, hosts, row.allowed_hosts)
    // Read and written in one transaction, so a start cannot slip in between the check and the change.
    const updated = await this.store.transaction(async (tx) => {
      const current = await tx.instances.get(row.id)
      if (!current) throw errors.instanceNotFound(row.id)
      if (current.status !== 'stopped') {
        throw errors.invalidState(
          `Instance ${row.id} is ${current.status}; shut it down to change its network, then start it again.`,
        )
      }
      return tx.instances.update(row.id, { network, allowed_hosts: allowed, updated_at: nowIso() })
    })
    if (!updated) throw errors.instanceNotFound(row.id)
    this.log.info({ instanceId: row.id, network, allowedHosts: allowed }, 'instance network changed')
    return updated
  }

  /** Destroys the sandbox and its workspace, then forgets the instance. */
  async remove(id: string): Promise<void> {
    await this.statuses.set(id, 'deleting', { desired_state: 'deleted' })
    await this.lock.run(id, () => this.destroy(id))
  }

  private async destroy(id: string): Promise<void> {
    this.lost(id, 'is being deleted')
    await this.gateway?.detach(id)
    await this.driver.destroy(id)
    await this.store.instances.remove(id)
    this.log.info({ instanceId: id }, 'instance deleted')
  }

  /** Finishes a delete or a stop a previous control-plane process left half done. */
  finishInterrupted(row: InstanceRow): void {
    if (row.status === 'deleting') this.background(row.id, () => this.destroy(row.id))
    else if (row.status === 'stopping') {
      this.background(row.id, async () => {
        await this.driver.stop(row.id)
        await this.statuses.set(row.id, 'stopped', { started_at: null })
      })
    }
  }

  /** Whether the instance's sandbox runs and its clawlet answers. */
  async healthy(id: string): Promise<boolean> {
    if (!(await this.driver.inspect(id)).running) return false
    return this.clients
      .get(id)
      .health()
      .then(
        () => true,
        () => false,
      )
  }

  /** Takes back a running, healthy instance a previous control-plane process started. */
  async adopt(row: InstanceRow): Promise<void> {
    // The instance's door back to the control plane died with the previous process.
    await this.gateway
      ?.attach(row)
      .catch((err: unknown) => this.log.error({ instanceId: row.id, err }, 'control socket not reopened'))
    // A sleeping instance stays asleep; one the previous process was waking is asleep again
    // (the next request that needs it wakes it).
    if (row.status === 'waking')
      await this.statuses.set(row.id, 'sleeping', {}, 'its wake was cut by a control-plane restart')
    else if (row.status !== 'ready' && row.status !== 'sleeping')
      await this.statuses.set(row.id, 'ready', { error: null, started_at: nowIso() })
    this.log.info({ instanceId: row.id }, 'instance re-adopted')
  }

  /** Starts again an instance whose sandbox is gone: what is left of it is stopped first. */
  async restart(
    row: InstanceRow,
    reason: string,
    opts: { provision: boolean; error?: string },
  ): Promise<void> {
    await this.statuses.set(row.id, 'starting', opts.error === undefined ? {} : { error: opts.error }, reason)
    this.background(row.id, async () => {
      await this.driver.stop(row.id, 0)
      if (opts.provision) await this.driver.provision(specOf(row))
      await this.boot(row, 'starting')
    })
  }

  /** Leaves a crashing instance in `error`, nothing of it running. */
  async giveUp(id: string, error: string): Promise<void> {
    // Orphans would hold its namespace's init.
    await this.driver.stop(id, 0)
    await this.statuses.set(id, 'error', { error }, error)
  }

  /** Re-reads an instance's row. */
  row(id: string): Promise<InstanceRow | undefined> {
    return this.store.instances.get(id)
  }

  /** Forgets an instance's clawlet; with a reason, its open sockets are told it is going away. */
  lost(id: string, reason?: string): void {
    this.clients.close(id)
    if (reason) for (const fn of this.stopListeners) fn(id, `instance ${id} ${reason}`)
  }

  /** The clawlet of a ready instance; 409 when it is not ready. */
  readyClient(row: InstanceRow): ClawletClient {
    // Asleep, its clawlet still runs: commands, files and shells need no agent.
    if (row.status !== 'ready' && row.status !== 'sleeping' && row.status !== 'waking')
      throw errors.instanceNotReady(row.id, row.status)
    return this.clients.get(row.id)
  }

  status(row: InstanceRow): Promise<InstanceStatusDetail> {
    return statusDetail(row, this.driver, this.clients, this.gateway)
  }

  /** The boot turns of the host running `row` (each runner's gateways take their own turns). */
  private bootsOn(row: InstanceRow): Semaphore {
    const host = row.runner_id ?? 'local'
    let boots = this.boots.get(host)
    if (!boots) {
      boots = new Semaphore(this.config.instances.bootConcurrency)
      this.boots.set(host, boots)
    }
    return boots
  }

  /** Starts the sandbox and waits for its clawlet; ends in `ready` or `error`. */
  private async boot(row: InstanceRow, from: InstanceStatus): Promise<void> {
    const started = performance.now()
    let step: BootStep = 'sandbox'
    try {
      row = await this.followPlan(row)
      await this.gateway?.attach(row)
      await this.driver.start(specOf(row))
      step = 'clawlet'
      await waitForHealth(this.clients.get(row.id), this.config.instances.readyTimeoutMs)
      step = 'gateway'
      // Ready means the agent answers too: its gateway takes seconds to boot, and several
      // booting at once starve the host, so they take turns.
      await this.bootsOn(row).run(async () => this.gateway?.start(row))
      await this.statuses.set(row.id, 'ready', { error: null, started_at: nowIso() })
      this.log.info(
        { instanceId: row.id, from, ms: Math.round(performance.now() - started) },
        'instance ready',
      )
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err)
      // A runner out of reach is expected; anything else is worth an error.
      if (err instanceof AppError) this.log.warn({ instanceId: row.id, err }, 'instance failed to start')
      else this.log.error({ instanceId: row.id, err }, 'instance failed to start')
      for (const fn of this.bootFailureListeners) fn(row.id, err, step)
      await this.driver.stop(row.id, 0).catch(() => {})
      await this.statuses.set(row.id, 'error', { error: reason }, reason)
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
    const network = networkUnder(plan, row.network)
    if (network !== row.network) {
      // The operator narrowed the plan's network: the instance starts with what it allows.
      this.log.info({ instanceId: row.id, plan: plan.name, network }, 'instance network follows its plan')
      const allowed = allowedHostsFor(plan, network, undefined, row.allowed_hosts)
      row =
        (await this.store.instances.update(row.id, {
          network,
          allowed_hosts: allowed,
          updated_at: nowIso(),
        })) ?? row
    }
    const wanted = resourcesFromPlan(plan)
    if (sameResources(row.resources, wanted)) return row
    this.log.info(
      { instanceId: row.id, plan: plan.name, from: row.resources, to: wanted },
      'instance resources follow its plan',
    )
    const updated =
      (await this.store.instances.update(row.id, {
        resources: wanted,
        updated_at: nowIso(),
      })) ?? row
    // The door listens in the instance's run folder, on its disk: closed for a moment, the disk
    // is idle and can grow before the sandbox starts (boot opens the door again).
    await this.gateway?.detach(row.id)
    await this.driver.provision(specOf(updated))
    return updated
  }

  private background(id: string, fn: () => Promise<void>): void {
    const task = this.lock
      .run(id, fn)
      .catch((err) => this.log.error({ instanceId: id, err }, 'instance task failed'))
    this.tasks.add(task)
    void task.finally(() => this.tasks.delete(task))
  }

  /** Waits for lifecycle work in flight; sandboxes keep running. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.tasks])
    this.clients.closeAll()
  }
}
