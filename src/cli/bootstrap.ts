import type { Services } from '../core/services.js'

export const BOOTSTRAP_EMAIL = 'admin@clawport.local'

/** On a store with no user, creates the administrator and one API key to print once. */
export async function bootstrapAdmin(
  services: Services,
): Promise<{ email: string; key: string } | undefined> {
  if ((await services.store.users.count()) > 0) return undefined
  const plan = await services.accounts.largestPlan()
  const user = await services.accounts.createUser({ email: BOOTSTRAP_EMAIL, admin: true, plan })
  const key = await services.keys.create(user.id, 'first start')
  return { email: user.email, key: key.key }
}
