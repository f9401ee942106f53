import type { NetworkMode } from '../config.js'
import type { ClawletClient } from '../door/clawlet/client.js'
import { errors } from '../errors.js'
import type { InstanceRow, Store, UserRow } from '../store/index.js'
import { UUID_RE } from './ids.js'
import type { Instance, InstanceStatusDetail } from './instance-types.js'
import type { CreateInstanceInput, InstanceAdmission } from './instances/admission.js'
import type { InstanceLifecycle } from './instances/lifecycle.js'
import { toPublic } from './instances/rows.js'
import type { InstanceSupervisor } from './instances/supervisor.js'
import type { TransitionListener } from './instances/transitions.js'
import type { Actor, InstanceScope } from './scope.js'
import { POOL_USER_ID } from './warm-pool.js'

export type { CreateInstanceInput } from './instances/admission.js'
export type { InstanceTransition, TransitionListener } from './instances/transitions.js'

/** An administrator acting as themselves, not through an instance's door. */
function adminReach(actor: Actor): boolean {
  return actor.user.is_admin === true && !actor.instanceId
}

/** What an owner may change of an instance. */
export interface UpdateInstanceInput {
  network?: NetworkMode
  allowed_hosts?: string[]
}

/**
 * Instances as an actor reaches them: every lookup is scoped to the actor, then admission
 * (creates), the lifecycle (actions) or the supervisor (adoption, crashes) does the work.
 */
export class InstanceService {
  constructor(
    private readonly store: Store,
    /** What an actor may reach: every lookup of an instance goes through it. */
    private readonly scope: InstanceScope,
    private readonly lifecycle: InstanceLifecycle,
    private readonly admission: InstanceAdmission,
    private readonly supervisor: InstanceSupervisor,
  ) {}

  toPublic(row: InstanceRow): Instance {
    return toPublic(row)
  }

  /** The instances the actor may see: its user's, only its swarm's from inside a swarm member. */
  async list(actor: Actor): Promise<Instance[]> {
    const rows = await this.store.instances.listByUser(actor.user.id)
    return this.scope.filter(actor, rows.map(toPublic))
  }

  /**
   * The actor's instance, or 404 whether it does not exist, belongs to someone else or is outside
   * the actor's scope. Every service that reaches an instance for someone comes through here.
   * An administrator calling with their own key or sign-in also reaches every user's instance
   * (not the warm pool's), to look after it; never from inside an instance, and never internal
   * work done for a user (`asUser` carries no role).
   */
  async owned(actor: Actor, id: string): Promise<InstanceRow> {
    const row = UUID_RE.test(id) ? await this.store.instances.get(id.toLowerCase()) : undefined
    if (!row) throw errors.instanceNotFound(id)
    if (row.user_id !== actor.user.id && !(adminReach(actor) && row.user_id !== POOL_USER_ID))
      throw errors.instanceNotFound(id)
    await this.scope.checkInstance(actor, row.id)
    return row
  }

  /**
   * Only the actor's own instance, even for an administrator: for what ties an instance to the
   * actor's other resources (a pipeline's steps, an inbox message), which stay within one user.
   */
  async own(actor: Actor, id: string): Promise<InstanceRow> {
    const row = await this.owned(actor, id)
    if (row.user_id !== actor.user.id) throw errors.instanceNotFound(id)
    return row
  }

  /** Every instance of one user, newest first, for the admin pages. */
  async listOfUser(userId: string): Promise<Instance[]> {
    return (await this.store.instances.listByUser(userId)).map(toPublic)
  }

  async get(actor: Actor, id: string): Promise<Instance> {
    return toPublic(await this.owned(actor, id))
  }

  async create(user: UserRow, input: CreateInstanceInput): Promise<Instance> {
    return toPublic(await this.admission.create(user, input))
  }

  async reboot(actor: Actor, id: string): Promise<Instance> {
    return toPublic(await this.lifecycle.act(await this.owned(actor, id), 'reboot'))
  }

  async shutdown(actor: Actor, id: string): Promise<Instance> {
    return toPublic(await this.lifecycle.act(await this.owned(actor, id), 'shutdown'))
  }

  async start(actor: Actor, id: string): Promise<Instance> {
    return toPublic(await this.lifecycle.act(await this.owned(actor, id), 'start'))
  }

  /** Changes what an instance's sandbox may reach, within its plan; only while it is stopped. */
  async update(actor: Actor, id: string, input: UpdateInstanceInput): Promise<Instance> {
    const row = await this.owned(actor, id)
    const network = input.network ?? row.network
    const hosts = input.allowed_hosts
    if (network === row.network && hosts === undefined) return toPublic(row)
    return toPublic(await this.lifecycle.changeNetwork(row, network, hosts))
  }

  /** Destroys the sandbox and its workspace, then forgets the instance. */
  async remove(actor: Actor, id: string): Promise<void> {
    await this.lifecycle.remove((await this.owned(actor, id)).id)
  }

  async status(actor: Actor, id: string): Promise<InstanceStatusDetail> {
    return this.lifecycle.status(await this.owned(actor, id))
  }

  /** The clawlet of a ready instance the caller owns; 409 when it is not ready. */
  async readyClient(actor: Actor, id: string): Promise<ClawletClient> {
    return this.lifecycle.readyClient(await this.owned(actor, id))
  }

  /** Waits for the lifecycle work queued on an instance, then returns its row. */
  waitSettled(id: string): Promise<InstanceRow | undefined> {
    return this.lifecycle.waitSettled(id)
  }

  /** Calls `fn` whenever an instance is stopped, rebooted, deleted or found dead. */
  onStop(fn: (id: string, reason: string) => void): void {
    this.lifecycle.onStop(fn)
  }

  /** Calls `listener` after every stored status change of any instance. */
  onTransition(listener: TransitionListener): void {
    this.lifecycle.onTransition(listener)
  }

  /** Takes back instances after a control-plane start (see InstanceSupervisor). */
  recover(): Promise<void> {
    return this.supervisor.recover()
  }

  /** Watches ready instances and restarts a sandbox that died by itself. */
  startMonitor(): void {
    this.supervisor.startMonitor()
  }

  /** Stops watching and waits for lifecycle work in flight; sandboxes keep running. */
  async close(): Promise<void> {
    this.supervisor.close()
    await this.lifecycle.close()
  }
}
