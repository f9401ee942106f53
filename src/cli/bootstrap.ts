import { largestPlan } from '../config.js'
import { AccountService } from '../core/accounts.js'
import { KeyService } from '../core/keys.js'
import type { Services } from '../core/services.js'
import { POOL_USER_ID } from '../core/warm-pool.js'

export const BOOTSTRAP_EMAIL = 'admin@clawport.local'

/**
 * On a store with no user, creates the administrator and one API key to print once. Replicas
 * starting together on an empty database create one: the check and the insert hold one lock.
 */
export async function bootstrapAdmin(
  services: Pick<Services, 'store' | 'config'>,
): Promise<{ email: string; key: string } | undefined> {
  return services.store.transaction(async (tx) => {
    await tx.lock('bootstrap:admin')
    const users = await tx.users.count()
    const pool = await tx.users.byId(POOL_USER_ID)
    if (users - (pool ? 1 : 0) > 0) return undefined
    const plan = largestPlan(services.config.plans)
    const user = await new AccountService(tx, services.config).createUser({
      email: BOOTSTRAP_EMAIL,
      admin: true,
      plan,
    })
    const key = await new KeyService(tx).create(user.id, 'first start')
    return { email: user.email, key: key.key }
  })
}
