import { z } from 'zod'
import { errors } from '../errors.js'
import type { Store } from '../store/index.js'
import { type AccountService, Me } from './accounts.js'
import type { PipelineService } from './automation/pipelines.js'
import type { Instance } from './instance-types.js'
import { ADMISSION_LOCK } from './instances/placement.js'
import type { InstanceService } from './instances.js'
import type { KeyService } from './keys.js'
import { hashPassword } from './passwords.js'
import { nowIso } from './time.js'
import { POOL_USER_ID } from './warm-pool.js'

/** A user as an administrator sees it. */
export const AdminUser = Me.extend({
  has_password: z.boolean(),
  disabled_at: z
    .string()
    .nullable()
    .describe(
      'When an administrator disabled the user (their keys and sign-ins stop working); null: enabled',
    ),
})
export type AdminUser = z.infer<typeof AdminUser>

/** A plan and how many users are on it. */
export const AdminPlan = z.object({
  name: z.string(),
  instance_limit: z.number().int(),
  memory_mb: z.number().int(),
  cpus: z.number(),
  pids_max: z.number().int(),
  disk_mb: z.number().int(),
  users: z.number().int(),
})
export type AdminPlan = z.infer<typeof AdminPlan>

export interface UserPatch {
  plan?: string
  subscription_active?: boolean
  is_admin?: boolean
  password?: string
}

/** The core services the admin pages work through. */
export interface UserAdminDeps {
  store: Store
  accounts: AccountService
  keys: KeyService
  instances: InstanceService
  pipelines: PipelineService
}

/** What the admin pages do with users and plans, over the account, key and instance services. */
export class UserAdmin {
  private readonly store: Store
  private readonly accounts: AccountService

  constructor(private readonly deps: UserAdminDeps) {
    this.store = deps.store
    this.accounts = deps.accounts
  }

  async list(): Promise<AdminUser[]> {
    const rows = (await this.store.users.list()).filter((u) => u.id !== POOL_USER_ID)
    return Promise.all(rows.map((u) => this.get(u.id)))
  }

  async get(id: string): Promise<AdminUser> {
    const row = await this.store.users.byId(id)
    if (!row || row.id === POOL_USER_ID) throw errors.notFound(`User ${id} was not found.`)
    return {
      ...(await this.accounts.me(id)),
      has_password: !!row.password_hash,
      disabled_at: row.disabled_at ?? null,
    }
  }

  /** A user's instances, newest first, each openable by an administrator. */
  async instances(id: string): Promise<Instance[]> {
    await this.get(id)
    return this.deps.instances.listOfUser(id)
  }

  /**
   * Disables a user: their keys, sign-ins and open streams stop at once (401 `user_disabled`) and
   * they cannot sign in, nor do their pipelines start; their instances, keys and data stay until
   * they are enabled again.
   */
  async disable(actorId: string, id: string): Promise<AdminUser> {
    const user = await this.get(id)
    if (id === actorId) throw errors.ownAccount('disable')
    if (!user.disabled_at) {
      const at = nowIso()
      await this.store.users.setDisabled(id, at, at)
    }
    await this.store.webSessions.removeByUser(id)
    this.deps.keys.watch.endUser(id, 'user disabled')
    return this.get(id)
  }

  async enable(id: string): Promise<AdminUser> {
    const user = await this.get(id)
    if (user.disabled_at) await this.store.users.setDisabled(id, null, nowIso())
    return this.get(id)
  }

  /**
   * Deletes a user with their keys, sign-ins, settings, swarms and pipelines. Refused (409
   * `user_has_instances`) while they have instances: a workspace is only ever destroyed by
   * deleting its instance, on purpose.
   */
  async remove(actorId: string, id: string): Promise<void> {
    const user = await this.get(id)
    if (id === actorId) throw errors.ownAccount('delete')
    const runs = await this.store.transaction(async (tx) => {
      // Creates hold this lock while they insert: none can slip in between the count and the delete.
      await tx.lock(ADMISSION_LOCK)
      const count = await tx.instances.countByUser(id)
      if (count > 0) throw errors.userHasInstances(user.email, count)
      // Swarms and pipelines are not keyed to the user in the store: they go here, runs with them.
      const runIds: string[] = []
      for (const p of await tx.automation.pipelines.listByUser(id)) {
        for (const r of await tx.automation.pipelines.listRuns(p.id, 1000)) runIds.push(r.id)
        await tx.automation.pipelines.remove(p.id)
      }
      for (const swarm of await tx.automation.swarms.listByUser(id))
        await tx.automation.swarms.remove(swarm.id)
      await tx.users.remove(id)
      return runIds
    })
    for (const runId of runs) this.deps.pipelines.runner.cancel(runId)
    this.deps.keys.watch.endUser(id, 'user deleted')
  }

  async update(actorId: string, id: string, patch: UserPatch): Promise<AdminUser> {
    const user = await this.get(id)
    if (patch.is_admin === false && id === actorId)
      throw errors.invalidState('You cannot remove your own administrator role.')
    if (patch.plan !== undefined || patch.subscription_active !== undefined) {
      await this.accounts.setPlan(
        user.email,
        patch.plan ?? user.plan,
        patch.subscription_active ?? (patch.plan !== undefined ? true : user.subscription_active),
      )
    }
    if (patch.is_admin !== undefined) await this.store.users.setAdmin(id, patch.is_admin, nowIso())
    if (patch.password !== undefined) {
      await this.store.users.setPassword(id, await hashPassword(patch.password), nowIso())
      // A new password signs the user out everywhere.
      await this.store.webSessions.removeByUser(id)
    }
    return this.get(id)
  }

  async plans(): Promise<AdminPlan[]> {
    const [plans, users] = await Promise.all([this.store.plans.list(), this.list()])
    return plans.map((p) => ({ ...p, users: users.filter((u) => u.plan === p.name).length }))
  }
}
