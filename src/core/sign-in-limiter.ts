import { isIP } from 'node:net'

/** Wrong passwords one address may try on one account before each further try must wait. */
const PAIR_FREE_FAILURES = 3
const PAIR_FIRST_DELAY_MS = 1_000
const PAIR_MAX_DELAY_MS = 60_000
/** A pair that stops failing is forgotten after this long, and starts again from no delay. */
const PAIR_FORGET_MS = 15 * 60_000
/** Sign-ins one address may try across all accounts: a burst, then a steady rate. */
const ADDRESS_BURST = 30
const ADDRESS_REFILL_PER_MS = 30 / 60_000
/** Sign-ins from addresses new to an account, across all of them (guessing from many addresses). */
const ACCOUNT_BURST = 100
const ACCOUNT_REFILL_PER_MS = 100 / (15 * 60_000)
/** How long an address that signed in to an account stays exempt from the account-wide budget. */
const KNOWN_ADDRESS_MS = 30 * 24 * 3600_000
/** Most entries each table holds; the least recently used goes first. */
export const SIGN_IN_LIMITER_MAX_ENTRIES = 10_000

/** A Map capped in size (least recently used evicted first) whose entries expire. */
class BoundedMap<V> {
  private readonly map = new Map<string, { value: V; expiresAt: number }>()
  constructor(private readonly max: number) {}

  get size(): number {
    return this.map.size
  }

  get(key: string, now: number): V | undefined {
    const e = this.map.get(key)
    if (!e) return undefined
    this.map.delete(key)
    if (e.expiresAt <= now) return undefined
    this.map.set(key, e)
    return e.value
  }

  set(key: string, value: V, expiresAt: number): void {
    this.map.delete(key)
    this.map.set(key, { value, expiresAt })
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string)
  }

  delete(key: string): void {
    this.map.delete(key)
  }
}

interface Pair {
  failures: number
  blockedUntil: number
}
interface Bucket {
  tokens: number
  at: number
}

/** A reserved sign-in try: settled once the password is known to be right or wrong. */
export interface SignInAttempt {
  succeeded(): void
}

/**
 * Limits password guessing without letting anyone lock an owner out. A try is counted before
 * the password is checked, so parallel tries are limited too. An address and account pair backs
 * off (a short delay that doubles, to a cap) after a few wrong passwords; each address has a
 * budget across accounts; each account has a budget for addresses that never signed in to it.
 * A flood from one address therefore slows only that address, never the owner elsewhere.
 */
export class SignInLimiter {
  private readonly pairs: BoundedMap<Pair>
  private readonly addresses: BoundedMap<Bucket>
  private readonly accounts: BoundedMap<Bucket>
  private readonly known: BoundedMap<true>

  constructor(maxEntries = SIGN_IN_LIMITER_MAX_ENTRIES) {
    this.pairs = new BoundedMap(maxEntries)
    this.addresses = new BoundedMap(maxEntries)
    this.accounts = new BoundedMap(maxEntries)
    this.known = new BoundedMap(maxEntries)
  }

  /** Entries held across all tables (bounded by 4 × maxEntries). */
  get size(): number {
    return this.pairs.size + this.addresses.size + this.accounts.size + this.known.size
  }

  /**
   * Counts a try of `account` from `address`, or answers how many ms to wait before one is
   * allowed (nothing is counted then).
   */
  reserve(address: string, account: string, now = Date.now()): SignInAttempt | { retryAfterMs: number } {
    const from = clientKey(address)
    const pairKey = `${from}|${account}`
    const pair = this.pairs.get(pairKey, now) ?? { failures: 0, blockedUntil: 0 }
    const known = this.known.get(pairKey, now) === true
    const addressBucket = refill(this.addresses.get(from, now), now, ADDRESS_BURST, ADDRESS_REFILL_PER_MS)
    const accountBucket = refill(this.accounts.get(account, now), now, ACCOUNT_BURST, ACCOUNT_REFILL_PER_MS)
    const waitMs = Math.max(
      pair.blockedUntil - now,
      waitFor(addressBucket, ADDRESS_REFILL_PER_MS),
      known ? 0 : waitFor(accountBucket, ACCOUNT_REFILL_PER_MS),
    )
    if (waitMs > 0) return { retryAfterMs: waitMs }

    pair.failures++
    if (pair.failures > PAIR_FREE_FAILURES) {
      const doublings = Math.min(pair.failures - PAIR_FREE_FAILURES - 1, 16)
      pair.blockedUntil = now + Math.min(PAIR_FIRST_DELAY_MS * 2 ** doublings, PAIR_MAX_DELAY_MS)
    }
    this.pairs.set(pairKey, pair, now + PAIR_FORGET_MS)
    addressBucket.tokens--
    this.addresses.set(from, addressBucket, now + ADDRESS_BURST / ADDRESS_REFILL_PER_MS)
    if (!known) {
      accountBucket.tokens--
      this.accounts.set(account, accountBucket, now + ACCOUNT_BURST / ACCOUNT_REFILL_PER_MS)
    }
    return {
      // The right password costs nothing: the owner never uses up their own budget.
      succeeded: () => {
        this.pairs.delete(pairKey)
        addressBucket.tokens = Math.min(ADDRESS_BURST, addressBucket.tokens + 1)
        if (!known) accountBucket.tokens = Math.min(ACCOUNT_BURST, accountBucket.tokens + 1)
        this.known.set(pairKey, true, Date.now() + KNOWN_ADDRESS_MS)
      },
    }
  }
}

/** Brings a bucket up to `now` in place, so a later refund reaches the stored one. */
function refill(b: Bucket | undefined, now: number, burst: number, perMs: number): Bucket {
  if (!b) return { tokens: burst, at: now }
  b.tokens = Math.min(burst, b.tokens + (now - b.at) * perMs)
  b.at = now
  return b
}

function waitFor(b: Bucket, perMs: number): number {
  return b.tokens >= 1 ? 0 : Math.ceil((1 - b.tokens) / perMs)
}

/**
 * The key of a client address: an IPv6 client is counted by its /64, which one host or
 * customer usually has whole, so it cannot take a fresh budget per address.
 */
export function clientKey(address: string): string {
  const a = address.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '')
  if (isIP(a) !== 6) return a
  const [head = '', tail = ''] = a.split('::') as [string, string?]
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = a.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`
}
