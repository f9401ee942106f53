import { isIP } from 'node:net'
import type { Store } from '../store/index.js'

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

/** A reserved sign-in try: settled once the password is known to be right. */
export interface SignInAttempt {
  succeeded(): void | Promise<void>
}

/** A try counted, or how many ms to wait before one is allowed (nothing counted then). */
export type SignInTry = SignInAttempt | { retryAfterMs: number }

/** Counts sign-in tries per address and account: in this process, or in the store for replicas. */
export interface SignInThrottle {
  reserve(address: string, account: string, now?: number): SignInTry | Promise<SignInTry>
}

/** What one try of an account from an address reads and writes. */
interface TryRecords {
  pair: Pair
  /** This address has signed in to this account before: exempt from the account's budget. */
  known: boolean
  address: Bucket
  account: Bucket
}

/**
 * Brings the buckets up to `now` and counts a try in the records, in place; or answers the wait
 * when one is due (the buckets are then only refilled, which a later read repeats harmlessly).
 */
function countTry(r: TryRecords, now: number): number {
  refill(r.address, now, ADDRESS_BURST, ADDRESS_REFILL_PER_MS)
  refill(r.account, now, ACCOUNT_BURST, ACCOUNT_REFILL_PER_MS)
  const waitMs = Math.max(
    r.pair.blockedUntil - now,
    waitFor(r.address, ADDRESS_REFILL_PER_MS),
    r.known ? 0 : waitFor(r.account, ACCOUNT_REFILL_PER_MS),
  )
  if (waitMs > 0) return waitMs
  r.pair.failures++
  if (r.pair.failures > PAIR_FREE_FAILURES) {
    const doublings = Math.min(r.pair.failures - PAIR_FREE_FAILURES - 1, 16)
    r.pair.blockedUntil = now + Math.min(PAIR_FIRST_DELAY_MS * 2 ** doublings, PAIR_MAX_DELAY_MS)
  }
  r.address.tokens--
  if (!r.known) r.account.tokens--
  return 0
}

/** The right password costs nothing: the owner never uses up their own budget. */
function refund(address: Bucket, account: Bucket | undefined): void {
  address.tokens = Math.min(ADDRESS_BURST, address.tokens + 1)
  if (account) account.tokens = Math.min(ACCOUNT_BURST, account.tokens + 1)
}

/** How long each record is kept after it is written. */
const KEEP_MS = {
  pair: PAIR_FORGET_MS,
  address: ADDRESS_BURST / ADDRESS_REFILL_PER_MS,
  account: ACCOUNT_BURST / ACCOUNT_REFILL_PER_MS,
  known: KNOWN_ADDRESS_MS,
}

/**
 * Limits password guessing without letting anyone lock an owner out. A try is counted before
 * the password is checked, so parallel tries are limited too. An address and account pair backs
 * off (a short delay that doubles, to a cap) after a few wrong passwords; each address has a
 * budget across accounts; each account has a budget for addresses that never signed in to it.
 * A flood from one address therefore slows only that address, never the owner elsewhere.
 * Kept in this process's memory (one server).
 */
export class SignInLimiter implements SignInThrottle {
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
  reserve(address: string, account: string, now = Date.now()): SignInTry {
    const from = clientKey(address)
    const pairKey = `${from}|${account}`
    const r: TryRecords = {
      pair: this.pairs.get(pairKey, now) ?? { failures: 0, blockedUntil: 0 },
      known: this.known.get(pairKey, now) === true,
      address: this.addresses.get(from, now) ?? { tokens: ADDRESS_BURST, at: now },
      account: this.accounts.get(account, now) ?? { tokens: ACCOUNT_BURST, at: now },
    }
    const waitMs = countTry(r, now)
    if (waitMs > 0) return { retryAfterMs: waitMs }
    this.pairs.set(pairKey, r.pair, now + KEEP_MS.pair)
    this.addresses.set(from, r.address, now + KEEP_MS.address)
    if (!r.known) this.accounts.set(account, r.account, now + KEEP_MS.account)
    return {
      // The stored buckets are these objects, so the refund reaches them.
      succeeded: () => {
        this.pairs.delete(pairKey)
        refund(r.address, r.known ? undefined : r.account)
        this.known.set(pairKey, true, Date.now() + KEEP_MS.known)
      },
    }
  }
}

/** Expired records are deleted from the store at most this often per process. */
const PRUNE_INTERVAL_MS = 60_000

/**
 * The same limits kept in the store, so every replica counts one address and one account
 * alike. A try reads and writes its records in one transaction holding the address's and then
 * the account's lock (always in that order, so two tries never wait on each other in a cycle).
 */
export class SharedSignInLimiter implements SignInThrottle {
  private lastPruneMs = 0

  constructor(private readonly store: Store) {}

  async reserve(address: string, account: string, now = Date.now()): Promise<SignInTry> {
    const from = clientKey(address)
    const keys = recordKeys(from, account)
    if (now - this.lastPruneMs >= PRUNE_INTERVAL_MS) {
      this.lastPruneMs = now
      void this.store.sharedState.signIn.prune(now).catch(() => {})
    }
    const allowed = await this.locked(
      from,
      account,
      async (state): Promise<{ retryAfterMs: number } | { known: boolean }> => {
        const rows = await state.get(Object.values(keys), now)
        const r: TryRecords = {
          pair: readJson<Pair>(rows.get(keys.pair)) ?? { failures: 0, blockedUntil: 0 },
          known: rows.has(keys.known),
          address: readJson<Bucket>(rows.get(keys.address)) ?? { tokens: ADDRESS_BURST, at: now },
          account: readJson<Bucket>(rows.get(keys.account)) ?? { tokens: ACCOUNT_BURST, at: now },
        }
        const waitMs = countTry(r, now)
        if (waitMs > 0) return { retryAfterMs: waitMs }
        await state.put([
          record(keys.pair, r.pair, now + KEEP_MS.pair),
          record(keys.address, r.address, now + KEEP_MS.address),
          ...(r.known ? [] : [record(keys.account, r.account, now + KEEP_MS.account)]),
        ])
        return { known: r.known }
      },
    )
    if ('retryAfterMs' in allowed) return allowed
    return { succeeded: () => this.settle(from, account, allowed.known) }
  }

  /** The right password: the pair starts over, the try is refunded, the address becomes known. */
  private async settle(from: string, account: string, known: boolean): Promise<void> {
    const keys = recordKeys(from, account)
    await this.locked(from, account, async (state) => {
      const now = Date.now()
      const rows = await state.get([keys.address, keys.account], now)
      const address = readJson<Bucket>(rows.get(keys.address))
      const accountBucket = known ? undefined : readJson<Bucket>(rows.get(keys.account))
      if (address) refund(address, accountBucket)
      await state.remove(keys.pair)
      await state.put([
        record(keys.known, true, now + KEEP_MS.known),
        ...(address ? [record(keys.address, address, now + KEEP_MS.address)] : []),
        ...(accountBucket ? [record(keys.account, accountBucket, now + KEEP_MS.account)] : []),
      ])
    })
  }

  private locked<T>(
    from: string,
    account: string,
    fn: (state: Store['sharedState']['signIn']) => Promise<T>,
  ) {
    return this.store.transaction(async (tx) => {
      await tx.lock(`sign-in:address:${from}`)
      await tx.lock(`sign-in:account:${account}`)
      return fn(tx.sharedState.signIn)
    })
  }
}

function recordKeys(from: string, account: string) {
  return {
    pair: `pair:${from}|${account}`,
    known: `known:${from}|${account}`,
    address: `address:${from}`,
    account: `account:${account}`,
  }
}

function record(key: string, value: unknown, expiresAtMs: number) {
  return { key, value: JSON.stringify(value), expires_at_ms: Math.ceil(expiresAtMs) }
}

function readJson<T>(text: string | undefined): T | undefined {
  return text === undefined ? undefined : (JSON.parse(text) as T)
}

/** Brings a bucket up to `now` in place. */
function refill(b: Bucket, now: number, burst: number, perMs: number): void {
  b.tokens = Math.min(burst, b.tokens + (now - b.at) * perMs)
  b.at = now
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
