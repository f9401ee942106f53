import { errors } from '../../errors.js'
import type { Store } from '../../store/index.js'
import type { Caller } from '../keys.js'

/**
 * What a call made from inside an instance may see: its owner's instances, or only its swarm
 * when it belongs to one. Calls with a key (no `instanceId`) see all of their user's instances;
 * ownership itself is checked by the services.
 */
export class InstanceScope {
  constructor(private readonly store: Store) {}

  /** The instance ids the caller is limited to, or undefined when it is not limited beyond its user. */
  async limit(caller: Caller): Promise<Set<string> | undefined> {
    if (!caller.instanceId) return undefined
    const member = await this.store.automation.swarms.memberOf(caller.instanceId)
    if (!member) return undefined
    const members = await this.store.automation.swarms.members(member.swarm_id)
    return new Set(members.map((m) => m.instance_id))
  }

  /** 404 when the caller may not see the instance (never 403: existence is not revealed). */
  async checkInstance(caller: Caller, id: string): Promise<void> {
    const allowed = await this.limit(caller)
    if (allowed && !allowed.has(id.toLowerCase())) throw errors.instanceNotFound(id)
  }

  /** A swarm member sees only its own swarm. */
  async checkSwarm(caller: Caller, swarmId: string): Promise<void> {
    if (!caller.instanceId) return
    const member = await this.store.automation.swarms.memberOf(caller.instanceId)
    if (member && member.swarm_id !== swarmId.toLowerCase()) throw errors.swarmNotFound(swarmId)
  }

  /** Keeps the items the caller may see. */
  async filter<T extends { id: string }>(caller: Caller, items: T[]): Promise<T[]> {
    const allowed = await this.limit(caller)
    return allowed ? items.filter((i) => allowed.has(i.id)) : items
  }
}
