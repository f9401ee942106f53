import { randomUUID } from 'node:crypto'
import { errors } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { SwarmRow } from '../../store/automation-store.js'
import type { Store } from '../../store/index.js'
import { UUID_RE } from '../ids.js'
import type { InstanceService } from '../instances.js'
import type { Caller } from '../keys.js'
import type { InstanceScope } from '../scope.js'
import { nowIso } from '../time.js'
import type { InboxService } from './inbox.js'
import type {
  BroadcastOutcome,
  BroadcastResult,
  SelfInfo,
  Swarm,
  SwarmCreateBody,
  SwarmMemberSpec,
  SwarmScaleBody,
} from './swarm-types.js'

const DEFAULT_BROADCAST_TIMEOUT_MS = 600_000

/**
 * Swarms: named groups of one user's instances, each member with an optional role and
 * instructions (sent to its agent through the inbox once it is ready). Members see only their
 * swarm from inside and reach each other with the clawport skill.
 */
export class SwarmService {
  constructor(
    private readonly store: Store,
    private readonly instances: InstanceService,
    private readonly inbox: InboxService,
    private readonly scope: InstanceScope,
    private readonly log: Logger,
  ) {}

  async create(caller: Caller, body: SwarmCreateBody): Promise<Swarm> {
    // Its new instances would be outside the swarm it is confined to.
    if (await this.scope.confined(caller)) throw errors.notFound('A swarm member cannot create swarms.')
    const specs = body.members ?? []
    const size = body.size ?? specs.length
    if (size < 1) throw errors.validation('A swarm needs a size or at least one entry in members.')
    await this.checkRoom(caller.user.id, size)
    const at = nowIso()
    const row: SwarmRow = {
      id: randomUUID(),
      user_id: caller.user.id,
      name: body.name,
      created_at: at,
      updated_at: at,
    }
    await this.store.automation.swarms.insert(row)
    await this.addMembers(caller, row, 0, size, specs)
    this.log.info({ swarmId: row.id, size }, 'swarm created')
    return this.toPublic(row)
  }

  async list(caller: Caller): Promise<Swarm[]> {
    const rows = await this.store.automation.swarms.listByUser(caller.user.id)
    const visible = []
    for (const r of rows) if (await this.scope.seesSwarm(caller, r.id)) visible.push(r)
    return Promise.all(visible.map((r) => this.toPublic(r)))
  }

  async get(caller: Caller, id: string): Promise<Swarm> {
    return this.toPublic(await this.owned(caller, id))
  }

  /** Grows (new instances) or shrinks (the last members are deleted) a swarm to `size`. */
  async scale(caller: Caller, id: string, body: SwarmScaleBody): Promise<Swarm> {
    const row = await this.owned(caller, id)
    const members = await this.store.automation.swarms.members(row.id)
    if (body.size > members.length) {
      await this.checkRoom(caller.user.id, body.size - members.length)
      const next = (members.at(-1)?.position ?? -1) + 1
      await this.addMembers(caller, row, next, body.size - members.length, body.members ?? [], true)
    } else {
      for (const m of members.slice(body.size).reverse()) await this.instances.remove(caller, m.instance_id)
    }
    await this.store.automation.swarms.touch(row.id, nowIso())
    return this.get(caller, row.id)
  }

  /** Deletes the swarm and its members' instances. */
  async remove(caller: Caller, id: string): Promise<void> {
    const row = await this.owned(caller, id)
    for (const m of await this.store.automation.swarms.members(row.id))
      await this.instances.remove(caller, m.instance_id).catch(() => {})
    await this.store.automation.swarms.remove(row.id)
  }

  /**
   * Sends one message to every member (through their inboxes, so it is durable) and reports
   * each reply as it arrives, then the aggregate. A member broadcasting skips itself.
   */
  async broadcast(
    caller: Caller,
    id: string,
    message: string,
    opts: { timeoutMs?: number; onResult?: (r: BroadcastResult) => void } = {},
  ): Promise<BroadcastOutcome> {
    const row = await this.owned(caller, id)
    const broadcastId = randomUUID()
    const members = (await this.store.automation.swarms.members(row.id)).filter(
      (m) => m.instance_id !== caller.instanceId,
    )
    const sent = await Promise.all(
      members.map((m) =>
        this.inbox.enqueue({
          userId: caller.user.id,
          targetId: m.instance_id,
          message,
          sender: caller.instanceId ? 'instance' : 'user',
          fromInstance: caller.instanceId ?? null,
          correlationId: broadcastId,
          idempotencyKey: `broadcast:${broadcastId}`,
        }),
      ),
    )
    const timeoutMs = opts.timeoutMs ?? DEFAULT_BROADCAST_TIMEOUT_MS
    const results = await Promise.all(
      sent.map(async ({ message: m }) => {
        const end = await this.inbox.waitSettled(m.id, timeoutMs)
        const r: BroadcastResult = {
          instance_id: end.instance_id,
          message_id: end.id,
          status: end.status,
          reply: end.reply,
          error: end.error,
        }
        opts.onResult?.(r)
        return r
      }),
    )
    return {
      broadcast_id: broadcastId,
      results,
      replied: results.filter((r) => r.status === 'replied').length,
      failed: results.filter((r) => r.status === 'failed').length,
      pending: results.filter((r) => r.status === 'pending' || r.status === 'delivered').length,
    }
  }

  /** An instance's view of itself: its record, its swarm and the instances it can reach. */
  async self(caller: Caller): Promise<SelfInfo> {
    if (!caller.instanceId) throw errors.notFound('GET /api/self answers only inside an instance.')
    const instance = await this.instances.get(caller, caller.instanceId)
    const member = await this.store.automation.swarms.memberOf(instance.id)
    const swarmRow = member ? await this.store.automation.swarms.get(member.swarm_id) : undefined
    const members = swarmRow ? await this.store.automation.swarms.members(swarmRow.id) : []
    const roles = new Map(members.map((m) => [m.instance_id, m.role]))
    const visible = await this.instances.list(caller)
    return {
      instance,
      swarm:
        swarmRow && member
          ? {
              id: swarmRow.id,
              name: swarmRow.name,
              position: Number(member.position),
              role: member.role,
              instructions: member.instructions,
              size: members.length,
            }
          : null,
      siblings: visible
        .filter((i) => i.id !== instance.id)
        .map((i) => ({ ...i, role: roles.get(i.id) ?? null })),
    }
  }

  private async owned(caller: Caller, id: string): Promise<SwarmRow> {
    const row = UUID_RE.test(id) ? await this.store.automation.swarms.get(id.toLowerCase()) : undefined
    if (!row || row.user_id !== caller.user.id) throw errors.swarmNotFound(id)
    await this.scope.checkSwarm(caller, row.id)
    return row
  }

  /** 403 before anything is created when the plan has no room for `n` more instances. */
  private async checkRoom(userId: string, n: number): Promise<void> {
    const sub = await this.store.subscriptions.get(userId)
    const plan = sub?.active ? await this.store.plans.get(sub.plan) : undefined
    if (!plan) throw errors.noSubscription()
    const count = await this.store.instances.countByUser(userId)
    if (count + n > plan.instance_limit) throw errors.instanceLimit(plan.instance_limit, plan.name)
  }

  private async addMembers(
    caller: Caller,
    swarm: SwarmRow,
    first: number,
    n: number,
    specs: SwarmMemberSpec[],
    specsFromZero = false,
  ): Promise<void> {
    for (let i = 0; i < n; i++) {
      const position = first + i
      const spec = specs[specsFromZero ? i : position] ?? {}
      const inst = await this.instances.create(caller.user, {
        name: spec.name ?? `${swarm.name}-${position + 1}`,
      })
      await this.store.automation.swarms.addMember({
        instance_id: inst.id,
        swarm_id: swarm.id,
        position,
        role: spec.role ?? null,
        instructions: spec.instructions ?? null,
        created_at: nowIso(),
      })
      if (spec.role || spec.instructions) {
        const lines = [
          `You are member ${position + 1} of the swarm "${swarm.name}" (${swarm.id})${spec.role ? `, with the role: ${spec.role}` : ''}.`,
          ...(spec.instructions ? [spec.instructions] : []),
          'Use the clawport skill to see the other members and to work with them.',
        ]
        await this.inbox.enqueue({
          userId: caller.user.id,
          targetId: inst.id,
          message: lines.join('\n'),
          sender: 'swarm',
          idempotencyKey: `swarm:${swarm.id}:intro`,
        })
      }
    }
  }

  private async toPublic(row: SwarmRow): Promise<Swarm> {
    const members = await this.store.automation.swarms.members(row.id)
    const out = []
    for (const m of members) {
      const inst = await this.store.instances.get(m.instance_id)
      if (!inst) continue
      out.push({
        instance_id: m.instance_id,
        name: inst.name,
        status: this.instances.toPublic(inst).status,
        position: Number(m.position),
        role: m.role,
        instructions: m.instructions,
      })
    }
    return {
      id: row.id,
      name: row.name,
      size: out.length,
      members: out,
      created_at: row.created_at,
      updated_at: row.updated_at,
    }
  }
}
