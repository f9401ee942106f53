import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { errors } from '../errors.js'
import { sha256 } from '../lib/hash.js'
import type { ApiKeyRow, Store } from '../store/index.js'
import type { Caller } from './caller.js'
import { CredentialWatch } from './credential-watch.js'
import { nowIso } from './time.js'

export type { Caller } from './caller.js'

export const KEY_PREFIX = 'sk_live_'
const SHOWN_PREFIX_LEN = KEY_PREFIX.length + 4
/** last_used_at is written at most this often per key, so reads stay reads. */
const TOUCH_INTERVAL_MS = 60_000

export const ApiKey = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
  expires_at: z.string().nullable(),
})
export type ApiKey = z.infer<typeof ApiKey>

export const CreatedApiKey = ApiKey.extend({ key: z.string() })
export type CreatedApiKey = z.infer<typeof CreatedApiKey>

function toPublic(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    created_at: row.created_at,
    last_used_at: row.last_used_at,
    expires_at: row.expires_at,
  }
}

/** API keys: created once, stored hashed, revoked at once. */
export class KeyService {
  private readonly touched = new Map<string, number>()
  /** Open sockets and streams by credential, ended when it is revoked. */
  readonly watch = new CredentialWatch((caller) => this.isCurrent(caller))

  constructor(private readonly store: Store) {}

  async create(userId: string, name: string, expiresAt?: string | null): Promise<CreatedApiKey> {
    if (expiresAt && Date.parse(expiresAt) <= Date.now()) {
      throw errors.validation('expires_at must be in the future.', { field: 'expires_at' })
    }
    const secret = KEY_PREFIX + randomBytes(24).toString('base64url')
    const row: ApiKeyRow = {
      id: `key_${randomBytes(8).toString('hex')}`,
      user_id: userId,
      name,
      prefix: secret.slice(0, SHOWN_PREFIX_LEN),
      key_hash: sha256(secret, 'hex'),
      created_at: nowIso(),
      last_used_at: null,
      expires_at: expiresAt ? new Date(expiresAt).toISOString() : null,
      revoked_at: null,
    }
    await this.store.keys.create(row)
    return { ...toPublic(row), key: secret }
  }

  async list(userId: string): Promise<ApiKey[]> {
    const rows = await this.store.keys.listByUser(userId)
    return rows.filter((r) => !r.revoked_at).map(toPublic)
  }

  async revoke(userId: string, id: string): Promise<void> {
    const row = await this.store.keys.getForUser(userId, id)
    if (!row || row.revoked_at) throw errors.keyNotFound(id)
    await this.store.keys.revoke(id, nowIso())
    this.touched.delete(id)
    this.watch.end(id, 'API key revoked')
  }

  /**
   * Whether the credential a caller authenticated with still stands: the key is not revoked or
   * expired, the dashboard session not signed out or expired, the instance still its owner's.
   */
  async isCurrent(caller: Caller): Promise<boolean> {
    const user = await this.store.users.byId(caller.user.id)
    if (!user || user.disabled_at) return false
    const now = Date.now()
    if (caller.keyId.startsWith('web_')) {
      const session = await this.store.webSessions.byId(caller.keyId.slice(4))
      return !!session && session.user_id === caller.user.id && Date.parse(session.expires_at) > now
    }
    if (caller.keyId.startsWith('instance:')) {
      const row = await this.store.instances.get(caller.keyId.slice(9))
      return row?.user_id === caller.user.id
    }
    const row = await this.store.keys.getForUser(caller.user.id, caller.keyId)
    return !!row && !row.revoked_at && !(row.expires_at && Date.parse(row.expires_at) <= now)
  }

  /** The caller of a request that came through an instance's own door: that instance, for its owner. */
  async authenticateInstance(instanceId: string): Promise<Caller> {
    const row = await this.store.instances.get(instanceId)
    const user = row ? await this.store.users.byId(row.user_id) : undefined
    if (!row || !user) throw errors.unauthorized('This instance no longer exists.')
    if (user.disabled_at) throw errors.userDisabled()
    return { user, keyId: `instance:${row.id}`, instanceId: row.id }
  }

  /** Resolves a bearer secret to its caller, or throws the right 401. */
  async authenticate(secret: string): Promise<Caller> {
    if (!secret.startsWith(KEY_PREFIX) || secret.length > 200) throw errors.invalidKey()
    const row = await this.store.keys.byHash(sha256(secret, 'hex'))
    if (!row) throw errors.invalidKey()
    if (row.revoked_at) throw errors.revokedKey()
    if (row.expires_at && Date.parse(row.expires_at) <= Date.now()) throw errors.expiredKey()
    const user = await this.store.users.byId(row.user_id)
    if (!user) throw errors.invalidKey()
    if (user.disabled_at) throw errors.userDisabled()
    const now = Date.now()
    if (now - (this.touched.get(row.id) ?? 0) > TOUCH_INTERVAL_MS) {
      this.touched.set(row.id, now)
      await this.store.keys.touch(row.id, new Date(now).toISOString())
    }
    return { user, keyId: row.id }
  }
}
