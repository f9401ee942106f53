import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { errors } from '../errors.js'
import type { PlanRow, Store } from '../store/index.js'
import { nowIso } from './time.js'

export const Invite = z.object({
  code: z.string(),
  plan: z.string(),
  max_uses: z.number().int(),
  used_count: z.number().int(),
  expires_at: z.string().nullable(),
  created_at: z.string(),
})
export type Invite = z.infer<typeof Invite>

export interface NewInvite {
  uses?: number
  plan?: string
  expiresInDays?: number
}

/** Invite codes: a plan handed out a limited number of times, until an optional expiry. */
export class InviteService {
  constructor(private readonly store: Store) {}

  async create(input: NewInvite): Promise<Invite> {
    const plan = input.plan ?? 'pro'
    if (!(await this.store.plans.get(plan))) throw errors.planNotFound(plan)
    const uses = input.uses ?? 1
    if (!Number.isInteger(uses) || uses < 1)
      throw errors.validation('uses must be a whole number of at least 1.')
    const days = input.expiresInDays
    if (days !== undefined && !(days > 0))
      throw errors.validation('expires-in must be a positive number of days.')
    const invite: Invite = {
      code: `inv_${randomBytes(9).toString('base64url')}`,
      plan,
      max_uses: uses,
      used_count: 0,
      expires_at: days ? new Date(Date.now() + days * 86_400_000).toISOString() : null,
      created_at: nowIso(),
    }
    await this.store.invites.create(invite)
    return invite
  }

  /** Every invite code, newest first. */
  list(): Promise<Invite[]> {
    return this.store.invites.list()
  }

  /** Deletes a code so it can no longer be redeemed; 404 when there is none. */
  async remove(code: string): Promise<void> {
    if (!(await this.store.invites.get(code))) throw errors.notFound('No such invite code.')
    await this.store.invites.remove(code)
  }

  /**
   * Redeems a code for a user inside the caller's transaction and returns the plan it grants.
   * The specific 403 tells the user why a code did not work.
   */
  async redeem(tx: Store, userId: string, code: string): Promise<PlanRow> {
    const invite = await tx.invites.get(code.trim())
    if (!invite) throw errors.inviteInvalid()
    const now = nowIso()
    if (invite.expires_at && invite.expires_at <= now) throw errors.inviteExpired()
    if (invite.used_count >= invite.max_uses) throw errors.inviteUsedUp()
    if (!(await tx.invites.redeem(invite.code, now))) throw errors.inviteUsedUp()
    const plan = await tx.plans.get(invite.plan)
    if (!plan) throw errors.planNotFound(invite.plan)
    await tx.subscriptions.upsert({
      user_id: userId,
      plan: plan.name,
      active: true,
      source: `invite:${invite.code}`,
      created_at: now,
      updated_at: now,
    })
    return plan
  }
}
