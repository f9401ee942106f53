import { z } from 'zod'
import { errors } from '../errors.js'
import type { Store } from '../store/index.js'
import { type AccountService, Me } from './accounts.js'
import { hashPassword } from './passwords.js'
import { nowIso } from './time.js'
import { POOL_USER_ID } from './warm-pool.js'

/** A user as an administrator sees it. */
export const AdminUser = Me.extend({ has_password: z.boolean() })
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

/** What the admin pages do with users and plans, over the account service and the store. */
export class UserAdmin {
  constructor(
    private readonly store: Store,
    private readonly accounts: AccountService,
  ) {}

  async list(): Promise<AdminUser[]> {
    const rows = (await this.store.users.list()).filter((u) => u.id !== POOL_USER_ID)
    return Promise.all(rows.map((u) => this.get(u.id)))
  }

  async get(id: string): Promise<AdminUser> {
    const row = await this.store.users.byId(id)
    if (!row || row.id === POOL_USER_ID) throw errors.notFound(`User ${id} was not found.`)
    return { ...(await this.accounts.me(id)), has_password: !!row.password_hash }
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
