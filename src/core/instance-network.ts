import type { NetworkMode } from '../config.js'
import { errors } from '../errors.js'
import type { PlanRow } from '../store/index.js'

/**
 * The network an instance of `plan` gets: the one asked for, else the plan's own. Asking for
 * more than the plan allows is a 422; an instance with no plan may have none.
 */
export function networkWithin(plan: PlanRow | undefined, wanted?: NetworkMode): NetworkMode {
  const most = plan?.network ?? 'off'
  const network = wanted ?? most
  if (network === 'public' && most !== 'public') throw errors.networkNotAllowed(network, plan?.name ?? null)
  return network
}
