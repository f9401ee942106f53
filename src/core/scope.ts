import type { AppError } from '../errors.js'
import { errors } from '../errors.js'
import type { Store } from '../store/index.js'
import type { StepTarget } from './automation/pipeline-types.js'

/**
 * Who reaches a resource: a user, confined to what one instance may see when the call came
 * through that instance's door (`instanceId`). A key's `Caller` is one; so is internal work done
 * for a user (`asUser`).
 */
export interface Actor {
  /** `is_admin` is set only on a caller authenticated as that user (see InstanceService.owned). */
  user: { id: string; is_admin?: boolean }
  instanceId?: string
}

/** A user acting with the full reach of its own keys. */
export function asUser(userId: string): Actor {
  return { user: { id: userId } }
}

/**
 * The one check of what an actor may reach, used by every core service that looks a resource
 * up: an actor with a key sees all of its user's instances; a call from inside an instance sees
 * its owner's instances, or only its swarm when it belongs to one. Anything else is a 404, never
 * a 403: existence is not revealed. Ownership (the user) is checked by the services themselves.
 */
export class InstanceScope {
  constructor(private readonly store: Store) {}

  /** The instance ids the actor is limited to, or undefined when it is not limited beyond its user. */
  async limit(actor: Actor): Promise<Set<string> | undefined> {
    if (!actor.instanceId) return undefined
    const self = await this.store.instances.get(actor.instanceId)
    // An instance gone (or handed on) reaches nothing: its scope never widens to the owner's.
    if (!self || self.user_id !== actor.user.id) return new Set()
    const member = await this.store.automation.swarms.memberOf(self.id)
    if (!member) return undefined
    const members = await this.store.automation.swarms.members(member.swarm_id)
    return new Set(members.map((m) => m.instance_id))
  }

  /** True when the actor is a swarm member acting from inside (limited to its swarm). */
  async confined(actor: Actor): Promise<boolean> {
    return (await this.limit(actor)) !== undefined
  }

  /** 404 when the actor may not see the instance. */
  async checkInstance(actor: Actor, id: string): Promise<void> {
    const allowed = await this.limit(actor)
    if (allowed && !allowed.has(id.toLowerCase())) throw errors.instanceNotFound(id)
  }

  /** A swarm member sees only its own swarm. */
  async checkSwarm(actor: Actor, swarmId: string): Promise<void> {
    if (!(await this.seesSwarm(actor, swarmId))) throw errors.swarmNotFound(swarmId)
  }

  /** Keeps the items (instances, by id) the actor may see. */
  async filter<T extends { id: string }>(actor: Actor, items: T[]): Promise<T[]> {
    const allowed = await this.limit(actor)
    return allowed ? items.filter((i) => allowed.has(i.id)) : items
  }

  /**
   * True when every instance the targets name is within the actor's reach: an instance in its
   * scope, or a member of a swarm it may see. A pipeline is visible to an actor only so.
   */
  async reachesAll(actor: Actor, targets: StepTarget[]): Promise<boolean> {
    const allowed = await this.limit(actor)
    if (!allowed) return true
    for (const t of targets) {
      if (t.instance_id && !allowed.has(t.instance_id.toLowerCase())) return false
      if (t.swarm_id && !(await this.seesSwarm(actor, t.swarm_id))) return false
      if (!t.instance_id && !t.swarm_id) return false
    }
    return true
  }

  /** Throws `notFound` unless the actor reaches every target. */
  async checkTargets(actor: Actor, targets: StepTarget[], notFound: () => AppError): Promise<void> {
    if (!(await this.reachesAll(actor, targets))) throw notFound()
  }

  /** True when the actor may see the swarm: a swarm member sees only its own. */
  async seesSwarm(actor: Actor, swarmId: string): Promise<boolean> {
    if (!actor.instanceId) return true
    const allowed = await this.limit(actor)
    if (!allowed) return true
    if (!allowed.size) return false
    const member = await this.store.automation.swarms.memberOf(actor.instanceId)
    return member?.swarm_id === swarmId.toLowerCase()
  }
}
