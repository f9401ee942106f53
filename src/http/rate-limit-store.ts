import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { RateCounter } from '../core/rate-counter.js'

type IncrCallback = Parameters<FastifyRateLimitStore['incr']>[1]

/**
 * A store for @fastify/rate-limit over a shared RateCounter, so every replica counts a key in
 * one window. Fixed windows only, as its default in-memory store counts them
 * (continueExceeding and exponentialBackoff are not supported). A route with its own limit
 * counts under its own prefix, as the plugin's Redis store does.
 */
export function rateLimitStore(counter: RateCounter, prefix = 'api:'): FastifyRateLimitStoreCtor {
  return class SharedRateLimitStore implements FastifyRateLimitStore {
    // The plugin constructs the store with its options, which a fixed window does not need.
    constructor(
      _options?: unknown,
      private readonly keyPrefix = prefix,
    ) {}

    incr(key: string, cb: IncrCallback, timeWindow: number): void {
      const now = Date.now()
      counter.hit(this.keyPrefix + key, timeWindow, now).then(
        (hit) => cb(null, { current: hit.count, ttl: Math.max(0, hit.resetAtMs - now) }),
        (err: Error) => cb(err),
      )
    }

    // The plugin passes the route's merged limit options, the route itself under `routeInfo`.
    child(routeOptions: object): FastifyRateLimitStore {
      const route = (routeOptions as { routeInfo?: { method?: unknown; url?: unknown } }).routeInfo
      return new SharedRateLimitStore(
        undefined,
        `${this.keyPrefix}${String(route?.method ?? '')}${String(route?.url ?? '')}:`,
      )
    }
  }
}
