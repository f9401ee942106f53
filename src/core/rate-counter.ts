import type { Store } from '../store/index.js'

/** Counters are pruned at most this often per process. */
const PRUNE_INTERVAL_MS = 60_000

/** One hit counted in a fixed window: the count so far and when the window ends. */
export interface RateHit {
  count: number
  resetAtMs: number
}

/** Fixed-window hit counters, by key. */
export interface RateCounter {
  hit(key: string, windowMs: number, nowMs?: number): Promise<RateHit>
}

/**
 * Counters in the store, shared by every replica: one atomic upsert per hit. Windows follow the
 * replicas' clocks, which are assumed to agree within a fraction of a window.
 */
export class StoreRateCounter implements RateCounter {
  private lastPruneMs = 0

  constructor(private readonly store: Store) {}

  async hit(key: string, windowMs: number, nowMs = Date.now()): Promise<RateHit> {
    const hit = await this.store.sharedState.rateCounters.hit(key, windowMs, nowMs)
    if (nowMs - this.lastPruneMs >= PRUNE_INTERVAL_MS) {
      this.lastPruneMs = nowMs
      // Off the request's path; a prune that fails is retried a minute later.
      void this.store.sharedState.rateCounters.prune(nowMs).catch(() => {})
    }
    return hit
  }
}

/** Counters every replica shares when the services' store is PostgreSQL; undefined for one server. */
export function sharedRateCounter({ store }: { store: Store }): RateCounter | undefined {
  return store.dialect === 'postgres' ? new StoreRateCounter(store) : undefined
}
