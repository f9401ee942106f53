import { normalizeAllowedHosts } from '../allowed-hosts.js'
import type { NetworkMode } from '../config.js'
import { errors } from '../errors.js'
import type { PlanRow } from '../store/index.js'

/** How much each mode lets through: a plan that allows one allows every lesser one. */
const REACH: Record<NetworkMode, number> = { off: 0, allowlist: 1, public: 2 }

/**
 * The network an instance of `plan` gets: the one asked for, else the plan's own. Asking for
 * more than the plan allows is a 422; an instance with no plan may have none.
 */
export function networkWithin(plan: PlanRow | undefined, wanted?: NetworkMode): NetworkMode {
  const most = plan?.network ?? 'off'
  const network = wanted ?? most
  if (REACH[network] > REACH[most]) throw errors.networkNotAllowed(network, plan?.name ?? null)
  return network
}

/** `network`, or the plan's own when the plan (changed by the operator) no longer allows it. */
export function networkUnder(plan: PlanRow, network: NetworkMode): NetworkMode {
  return REACH[network] > REACH[plan.network] ? plan.network : network
}

/** Checked, lowercased host names; a 422 naming the first entry that is not one. */
export function checkAllowedHosts(hosts: readonly string[]): string[] {
  const r = normalizeAllowedHosts(hosts)
  if ('hosts' in r) return r.hosts
  throw errors.invalidAllowedHost(r.host, r.problem)
}

/** A plan's default host names (none without a plan). */
export function planAllowedHosts(plan: PlanRow | undefined): string[] {
  return plan ? plan.allowed_hosts : []
}

/**
 * The host names an instance keeps: those asked for (checked), else what it had, else, for an
 * allowlist that would list none, the plan's defaults.
 */
export function allowedHostsFor(
  plan: PlanRow | undefined,
  network: NetworkMode,
  wanted: readonly string[] | undefined,
  current: string[] = [],
): string[] {
  if (wanted !== undefined) return checkAllowedHosts(wanted)
  if (network === 'allowlist' && current.length === 0) return planAllowedHosts(plan)
  return current
}
