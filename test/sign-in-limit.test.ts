import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { hashPassword } from '../src/core/passwords.js'
import { SIGN_IN_LIMITER_MAX_ENTRIES, SignInLimiter } from '../src/core/sign-in-limiter.js'
import { nowIso } from '../src/core/time.js'
import { type InProcess, inProcess } from './helpers/app.js'

const OWNER = 'owner@example.com'
const PASSWORD = 'the-owner-password'

describe('sign-in: guessing is slowed, the owner is never locked out', () => {
  let t: InProcess

  beforeAll(async () => {
    t = await inProcess()
    const user = await t.services.accounts.createUser({ email: OWNER })
    await t.services.store.users.setPassword(user.id, await hashPassword(PASSWORD), nowIso())
  })
  afterAll(() => t?.close())
  afterEach(() => vi.useRealTimers())

  /**
   * The limiter reads the wall clock: the waits are lived through by moving the clock on, not
   * by sleeping (only `Date` is faked; timers, sockets and hashing run as ever).
   */
  function freezeClock() {
    vi.useFakeTimers({ toFake: ['Date'] })
  }
  function waitOut(seconds: number) {
    vi.setSystemTime(Date.now() + seconds * 1000 + 50)
  }

  function login(remoteAddress: string, password: string, email = OWNER) {
    return t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      remoteAddress,
      headers: { host: 'localhost:80', origin: 'http://localhost:80' },
      payload: { email, password },
    })
  }

  it('refuses most of 60 parallel wrong passwords from one address with 429 and Retry-After', async () => {
    freezeClock()
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => login('203.0.113.7', `wrong-password-${i}`)),
    )
    const limited = answers.filter((r) => r.statusCode === 429)
    const refused = answers.filter((r) => r.statusCode === 401)
    expect(limited.length + refused.length).toBe(60)
    expect(limited.length).toBeGreaterThanOrEqual(50)
    const first = limited[0]
    expect(first?.json()).toMatchObject({ code: 'rate_limited', status: 429 })
    expect(Number(first?.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(Number(first?.headers['retry-after'])).toBeLessThanOrEqual(5)

    // The owner, elsewhere, signs in at once.
    const owner = await login('198.51.100.20', PASSWORD)
    expect(owner.statusCode).toBe(200)
    expect(owner.json().user.email).toBe(OWNER)

    // From the flooding address too, once its short wait is over.
    const early = await login('203.0.113.7', PASSWORD)
    expect(early.statusCode).toBe(429)
    waitOut(Number(early.headers['retry-after']))
    expect((await login('203.0.113.7', PASSWORD)).statusCode).toBe(200)
  })

  it('doubles the wait after each further wrong password from the same address', async () => {
    freezeClock()
    const from = '203.0.113.8'
    const waits: number[] = []
    for (let i = 0; i < 3; i++) expect((await login(from, 'wrong-password')).statusCode).toBe(401)
    for (let i = 0; i < 3; i++) {
      expect((await login(from, 'wrong-password')).statusCode).toBe(401)
      const held = await login(from, 'wrong-password')
      expect(held.statusCode).toBe(429)
      const waitS = Number(held.headers['retry-after'])
      waits.push(waitS)
      waitOut(waitS)
    }
    expect(waits).toEqual([1, 2, 4])
  })

  it('limits one address guessing across many accounts', async () => {
    const answers = []
    for (let i = 0; i < 40; i++)
      answers.push(await login('203.0.113.9', 'password', `nobody${i}@example.com`))
    expect(answers.filter((r) => r.statusCode === 429).length).toBeGreaterThan(0)
    // Another address is not held up.
    expect((await login('198.51.100.21', 'password', 'nobody0@example.com')).statusCode).toBe(401)
  })

  it('counts an IPv6 client by its /64', async () => {
    const answers = []
    for (let i = 0; i < 40; i++)
      answers.push(await login(`2001:db8:1:2::${i.toString(16)}`, 'password', `v6-${i}@example.com`))
    expect(answers.filter((r) => r.statusCode === 429).length).toBeGreaterThan(0)
  })

  it('stays bounded in memory after 50,000 distinct addresses and accounts', () => {
    const limiter = t.services.webSessions.signInLimiter
    if (!(limiter instanceof SignInLimiter)) throw new Error('SQLite keeps sign-in tries in memory')
    const start = Date.now()
    for (let i = 0; i < 50_000; i++) {
      const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
      const attempt = limiter.reserve(address, `user${i}@example.com`, start + i)
      expect('succeeded' in attempt).toBe(true)
      if (i % 2 === 0 && 'succeeded' in attempt) attempt.succeeded()
    }
    expect(limiter.size).toBeLessThanOrEqual(4 * SIGN_IN_LIMITER_MAX_ENTRIES)
  })
})
