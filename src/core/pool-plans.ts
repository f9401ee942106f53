import type { Config, PlanSpec } from '../config.js'

/**
 * What one warm instance is counted at against CLAWPORT_POOL_MEMORY_MB: an idle OpenClaw
 * gateway holds ~0.85 GB, or the plan's memory limit when that is less.
 */
export const POOLED_RESTING_MB = 1024

/** One plan's pool: how many warm instances of it are kept. */
export interface PlanPool {
  plan: PlanSpec
  size: number
}

/**
 * Each pooled plan with its size. A plan's own `pool` is taken as it is; every other plan that
 * can have instances gets CLAWPORT_POOL_SIZE, the plans with the most instances first, for as
 * long as the memory budget lasts (a plan it no longer reaches gets 0). CLAWPORT_POOL_PLAN
 * keeps the pool to that one plan; a plan whose instances get an allowlist has none.
 */
export function planPools(config: Pick<Config, 'plans' | 'pool'>): PlanPool[] {
  const { pool } = config
  // An allowlist instance is made for the host names its create lists: it always starts cold.
  const plans = config.plans.filter((p) => p.network !== 'allowlist' && (!pool.plan || p.name === pool.plan))
  const resting = (p: PlanSpec) => Math.min(p.memory_mb, POOLED_RESTING_MB)
  let budgetMb = pool.memoryMb
  for (const p of plans) if (p.pool !== undefined) budgetMb -= p.pool * resting(p)
  const sizes = new Map<string, number>()
  const byDemand = plans
    .filter((p) => p.pool === undefined && p.instance_limit > 0)
    .sort((a, b) => b.instance_limit - a.instance_limit)
  for (const p of byDemand) {
    const size = Math.max(0, Math.min(pool.size, Math.floor(budgetMb / resting(p))))
    budgetMb -= size * resting(p)
    sizes.set(p.name, size)
  }
  return plans
    .filter((p) => p.pool !== undefined || p.instance_limit > 0)
    .map((plan) => ({ plan, size: plan.pool ?? sizes.get(plan.name) ?? 0 }))
}
