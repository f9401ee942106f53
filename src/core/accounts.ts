import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import { type Config, NetworkMode } from '../config.js'
import { AppError, errors } from '../errors.js'
import type { Store, UserRow } from '../store/index.js'
import { hashPassword } from './passwords.js'
import { nowIso } from './time.js'

export const Email = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email({ message: 'must be an email address' }))

export const Me = z.object({
  id: z.string(),
  email: z.string(),
  is_admin: z.boolean(),
  plan: z.string(),
  subscription_active: z.boolean(),
  instance_limit: z.number().int(),
  network: NetworkMode.describe(
    "The most network the plan's instances may have, and what a create gets by default",
  ),
  usage: z.object({ instances: z.number().int() }),
  created_at: z.string(),
})
export type Me = z.infer<typeof Me>

export interface NewUser {
  email: string
  password?: string
  admin?: boolean
  plan?: string
}

/** Users, their plans and subscriptions. */
export class AccountService {
  constructor(
    private readonly store: Store,
    private readonly config: Pick<Config, 'defaultPlan'>,
  ) {}

  async createUser(input: NewUser): Promise<UserRow> {
    const parsed = Email.safeParse(input.email)
    if (!parsed.success)
      throw errors.validation(`"${input.email}" is not an email address.`, { field: 'email' })
    const email = parsed.data
    if (input.password !== undefined && input.password.length < 8) {
      throw errors.validation('The password must have at least 8 characters.')
    }
    const plan = input.plan ?? this.config.defaultPlan
    if (!(await this.store.plans.get(plan))) throw errors.planNotFound(plan)
    if (await this.store.users.byEmail(email)) {
      throw new AppError('user_exists', `A user with email ${email} already exists.`)
    }
    const at = nowIso()
    const user: UserRow = {
      id: randomUUID(),
      email,
      password_hash: input.password ? await hashPassword(input.password) : null,
      is_admin: input.admin === true,
      created_at: at,
      updated_at: at,
    }
    await this.store.transaction(async (tx) => {
      await tx.users.create(user)
      await tx.subscriptions.upsert({
        user_id: user.id,
        plan,
        active: Boolean(input.plan),
        source: input.plan ? 'admin' : 'default',
        created_at: at,
        updated_at: at,
      })
    })
    return user
  }

  async userByEmail(email: string): Promise<UserRow> {
    const normalized = Email.safeParse(email)
    const user = normalized.success ? await this.store.users.byEmail(normalized.data) : undefined
    if (!user) throw errors.userNotFound(email)
    return user
  }

  /** Puts a user on a plan with an active subscription. */
  async setPlan(email: string, plan: string, active = true): Promise<void> {
    const user = await this.userByEmail(email)
    if (!(await this.store.plans.get(plan))) throw errors.planNotFound(plan)
    const at = nowIso()
    await this.store.subscriptions.upsert({
      user_id: user.id,
      plan,
      active,
      source: 'admin',
      created_at: at,
      updated_at: at,
    })
  }

  async me(userId: string): Promise<Me> {
    const user = await this.store.users.byId(userId)
    if (!user) throw errors.unauthorized()
    const sub = await this.store.subscriptions.get(userId)
    const planName = sub?.plan ?? this.config.defaultPlan
    const plan = await this.store.plans.get(planName)
    const active = sub?.active === true
    return {
      id: user.id,
      email: user.email,
      is_admin: user.is_admin,
      plan: planName,
      subscription_active: active,
      instance_limit: active ? (plan?.instance_limit ?? 0) : 0,
      network: plan?.network ?? 'off',
      usage: { instances: await this.store.instances.countByUser(userId) },
      created_at: user.created_at,
    }
  }

  /** The model tokens all of a user's instances used. */
  modelUsage(userId: string): ReturnType<Store['usage']['totals']> {
    return this.store.usage.totals({ userId })
  }
}
