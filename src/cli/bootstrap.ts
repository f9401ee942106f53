import { largestPlan } from '../config.js'
import type { Services } from '../core/services.js'
import { POOL_USER_ID } from '../core/warm-pool.js'

export const BOOTSTRAP_EMAIL = 'admin@clawport.local'

/** On a store with no user, creates the administrator and one API key to print once. */
export async function bootstrapAdmin(
  services: Services,
): Promise<{ email: string; key: string } | undefined> {
  const users = await services.store.users.count()
  const pool = await services.store.users.byId(POOL_USER_ID)
  if (users - (pool ? 1 : 0) > 0) return undefined
  const plan = largestPlan(services.config.plans)
  const user = await services.accounts.createUser({ email: BOOTSTRAP_EMAIL, admin: true, plan })
  const key = await services.keys.create(user.id, 'first start')
  return { email: user.email, key: key.key }
}
