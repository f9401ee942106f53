import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import type { HttpConfig } from '../config.js'
import { AppError, errors } from '../errors.js'
import { sha256 } from '../lib/hash.js'
import type { Store, UserRow, WebSessionRow } from '../store/index.js'
import type { AccountService } from './accounts.js'
import type { InviteService } from './invites.js'
import type { Caller, KeyService } from './keys.js'
import { hashPassword, verifyPassword } from './passwords.js'
import { SharedSignInLimiter, SignInLimiter, type SignInThrottle } from './sign-in-limiter.js'
import { nowIso } from './time.js'

/** Sliding expiry is written at most this often per session, so reads stay reads. */
const TOUCH_INTERVAL_MS = 60_000
/** Compared against when the email is unknown, so both cases take the same time. */
const DUMMY_HASH = hashPassword('not a real password; only spends the same time')

export const sessionErrors = {
  badCredentials: () => new AppError('invalid_credentials', 'The email or password is not right.'),
  tooManyAttempts: (retryAfterS: number) =>
    new AppError('rate_limited', `Too many sign-in tries; retry in ${retryAfterS} s.`, {
      headers: { 'retry-after': String(retryAfterS) },
    }),
  setupDone: () => new AppError('setup_done', 'The administrator already has a password; sign in instead.'),
  signupClosed: () =>
    new AppError('signup_closed', 'Sign-up is closed on this server; ask its administrator for an account.'),
  csrf: () =>
    new AppError('csrf_failed', 'This request needs the X-CSRF-Token header of the signed-in page.'),
  crossSite: () => new AppError('cross_site', 'Cookie sign-in only works from this site itself.'),
}

/** A fresh sign-in: the cookie secret and the CSRF token are only ever in this answer. */
export interface WebLogin {
  token: string
  csrf: string
  user: UserRow
  expiresAt: string
}

/** A signed-in dashboard request. */
export interface WebCaller extends Caller {
  sessionId: string
  csrfHash: string
}

/** Whether a CSRF token sent by the page matches the session's. */
export function csrfMatches(sent: string | undefined, csrfHash: string): boolean {
  if (!sent || sent.length > 200) return false
  const a = Buffer.from(sha256(sent, 'hex'))
  const b = Buffer.from(csrfHash)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Dashboard sign-in: email and password, sessions stored hashed, first-run password, sign-up. */
export class WebSessionService {
  /**
   * Sign-in tries per address and account: bounded in memory for one server, in the store when
   * replicas share PostgreSQL (a guesser spreading tries over replicas gains nothing).
   */
  readonly signInLimiter: SignInThrottle

  constructor(
    private readonly store: Store,
    private readonly accounts: AccountService,
    private readonly keys: KeyService,
    private readonly invites: InviteService,
    private readonly config: Pick<HttpConfig, 'signup' | 'sessionTtlMs'>,
  ) {
    this.signInLimiter = store.dialect === 'postgres' ? new SharedSignInLimiter(store) : new SignInLimiter()
  }

  /** Signs in from `clientAddress`; the try is counted before the password is checked. */
  async login(email: string, password: string, clientAddress = 'unknown'): Promise<WebLogin> {
    const normalized = email.trim().toLowerCase()
    const attempt = await this.signInLimiter.reserve(clientAddress, normalized)
    if ('retryAfterMs' in attempt)
      throw sessionErrors.tooManyAttempts(Math.max(1, Math.ceil(attempt.retryAfterMs / 1000)))
    const user = await this.store.users.byEmail(normalized)
    const ok = await verifyPassword(password, user?.password_hash ?? (await DUMMY_HASH))
    if (!user?.password_hash || !ok) throw sessionErrors.badCredentials()
    // Said only to someone who knows the password: it reveals nothing to a guesser.
    if (user.disabled_at) throw errors.userDisabled()
    await attempt.succeeded()
    return this.open(user)
  }

  /** The first-run screen: needed while no administrator has a password. */
  async setupRequired(): Promise<boolean> {
    const users = await this.store.users.list()
    const admins = users.filter((u) => u.is_admin)
    return admins.length > 0 && admins.every((u) => !u.password_hash)
  }

  /** Sets the first administrator's password once, proven by the API key printed at first start. */
  async completeSetup(apiKey: string, password: string): Promise<WebLogin> {
    if (!(await this.setupRequired())) throw sessionErrors.setupDone()
    const { user } = await this.keys.authenticate(apiKey.trim())
    if (!user.is_admin) throw errors.adminOnly()
    if (password.length < 8) throw errors.validation('The password must have at least 8 characters.')
    await this.store.users.setPassword(user.id, await hashPassword(password), nowIso())
    return this.open({ ...user, password_hash: 'set' })
  }

  /** Open sign-up (CLAWPORT_SIGNUP=open); an invite code, when given, puts the user on its plan. */
  async signup(email: string, password: string, inviteCode?: string): Promise<WebLogin> {
    if (this.config.signup !== 'open') throw sessionErrors.signupClosed()
    const code = inviteCode?.trim()
    // Checked first so a bad code does not leave an account behind; redeemed atomically after.
    if (code && !(await this.store.invites.get(code))) throw errors.inviteInvalid()
    const user = await this.accounts.createUser({ email, password })
    if (code) await this.store.transaction((tx) => this.invites.redeem(tx, user.id, code))
    return this.open(user)
  }

  /** Resolves a session cookie; undefined when it is unknown or expired. */
  async authenticate(token: string): Promise<WebCaller | undefined> {
    if (!token || token.length > 200) return undefined
    const row = await this.store.webSessions.byTokenHash(sha256(token, 'hex'))
    if (!row) return undefined
    const now = Date.now()
    if (Date.parse(row.expires_at) <= now) {
      await this.store.webSessions.remove(row.id)
      return undefined
    }
    const user = await this.store.users.byId(row.user_id)
    // Disabling removes a user's sessions; this covers one opened in the same moment.
    if (!user || user.disabled_at) return undefined
    if (now - Date.parse(row.last_seen_at) > TOUCH_INTERVAL_MS) {
      await this.store.webSessions.touch(
        row.id,
        new Date(now).toISOString(),
        new Date(now + this.config.sessionTtlMs).toISOString(),
      )
    }
    return { user, keyId: `web_${row.id}`, sessionId: row.id, csrfHash: row.csrf_hash }
  }

  async logout(token: string): Promise<void> {
    const row = token ? await this.store.webSessions.byTokenHash(sha256(token, 'hex')) : undefined
    if (!row) return
    await this.store.webSessions.remove(row.id)
    this.keys.watch.end(`web_${row.id}`, 'signed out')
  }

  private async open(user: UserRow): Promise<WebLogin> {
    const token = randomBytes(32).toString('base64url')
    const csrf = randomBytes(24).toString('base64url')
    const at = nowIso()
    const expiresAt = new Date(Date.now() + this.config.sessionTtlMs).toISOString()
    const row: WebSessionRow = {
      id: randomUUID(),
      token_hash: sha256(token, 'hex'),
      csrf_hash: sha256(csrf, 'hex'),
      user_id: user.id,
      created_at: at,
      last_seen_at: at,
      expires_at: expiresAt,
    }
    await this.store.webSessions.prune(at)
    await this.store.webSessions.create(row)
    return { token, csrf, user, expiresAt }
  }
}
