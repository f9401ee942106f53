import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { errors } from '../errors.js'
import { sha256 } from '../lib/hash.js'
import type { Store } from '../store/index.js'
import type { InstanceService } from './instances.js'
import type { Caller, KeyService } from './keys.js'

/** Unused tickets a user may hold at once; the oldest go first. */
const MAX_PER_USER = 50

export const WsTicket = z.object({
  ticket: z.string().describe('Pass as ?ticket= on one WebSocket of this instance, once'),
  expires_at: z.string(),
})
export type WsTicket = z.infer<typeof WsTicket>

/**
 * Single-use, short-lived credentials for WebSockets opened where no Authorization header can
 * be set (browsers). Stored hashed, so a ticket issued by one replica opens a socket on any
 * other, once: redeeming deletes the row in the same statement that reads it.
 */
export class WsTicketService {
  constructor(
    private readonly store: Store,
    private readonly instances: InstanceService,
    private readonly keys: KeyService,
    private readonly ttlMs: number,
  ) {}

  /** A ticket for one socket of one of the caller's instances (404 for anyone else's). */
  async issue(caller: Caller, instanceId: string): Promise<WsTicket> {
    const row = await this.instances.owned(caller, instanceId)
    const now = Date.now()
    // Room for the new one within the cap.
    await this.store.sharedState.tickets.prune(caller.user.id, MAX_PER_USER - 1, now)
    const ticket = `wst_${randomBytes(24).toString('base64url')}`
    const expiresAtMs = now + this.ttlMs
    await this.store.sharedState.tickets.insert({
      hash: sha256(ticket, 'hex'),
      user_id: caller.user.id,
      key_id: caller.keyId,
      caller_instance_id: caller.instanceId ?? null,
      instance_id: row.id,
      created_at_ms: now,
      expires_at_ms: expiresAtMs,
    })
    return { ticket, expires_at: new Date(expiresAtMs).toISOString() }
  }

  /**
   * Uses up a ticket; 401 when it is unknown, used, expired, for another instance, or when the
   * key or sign-in that issued it has been revoked since.
   */
  async redeem(ticket: string, instanceId: string): Promise<Caller> {
    if (!ticket.startsWith('wst_') || ticket.length > 200) throw errors.invalidTicket()
    const row = await this.store.sharedState.tickets.consume(sha256(ticket, 'hex'), Date.now())
    if (!row || row.instance_id !== instanceId.toLowerCase()) throw errors.invalidTicket()
    const user = await this.store.users.byId(row.user_id)
    if (!user) throw errors.invalidTicket()
    const caller: Caller = {
      user,
      keyId: row.key_id,
      ...(row.caller_instance_id ? { instanceId: row.caller_instance_id } : {}),
    }
    if (!(await this.keys.isCurrent(caller))) throw errors.invalidTicket()
    return caller
  }
}
