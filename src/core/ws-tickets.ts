import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { errors } from '../errors.js'
import type { InstanceService } from './instances.js'
import type { Caller, KeyService } from './keys.js'

/** Unused tickets a user may hold at once; the oldest go first. */
const MAX_PER_USER = 50

export const WsTicket = z.object({
  ticket: z.string().describe('Pass as ?ticket= on one WebSocket of this instance, once'),
  expires_at: z.string(),
})
export type WsTicket = z.infer<typeof WsTicket>

interface Entry {
  caller: Caller
  instanceId: string
  expiresAt: number
}

/**
 * Single-use, short-lived credentials for WebSockets opened where no Authorization header can
 * be set (browsers). Kept in memory: a restart simply invalidates them.
 */
export class WsTicketService {
  private readonly tickets = new Map<string, Entry>()

  constructor(
    private readonly instances: InstanceService,
    private readonly keys: KeyService,
    private readonly ttlMs: number,
  ) {}

  /** A ticket for one socket of one of the caller's instances (404 for anyone else's). */
  async issue(caller: Caller, instanceId: string): Promise<WsTicket> {
    const row = await this.instances.owned(caller, instanceId)
    this.sweep(caller.user.id)
    const ticket = `wst_${randomBytes(24).toString('base64url')}`
    const expiresAt = Date.now() + this.ttlMs
    this.tickets.set(ticket, { caller, instanceId: row.id, expiresAt })
    return { ticket, expires_at: new Date(expiresAt).toISOString() }
  }

  /**
   * Uses up a ticket; 401 when it is unknown, used, expired, for another instance, or when the
   * key or sign-in that issued it has been revoked since.
   */
  async redeem(ticket: string, instanceId: string): Promise<Caller> {
    const entry = this.tickets.get(ticket)
    this.tickets.delete(ticket)
    if (!entry || entry.expiresAt <= Date.now() || entry.instanceId !== instanceId.toLowerCase()) {
      throw errors.invalidTicket()
    }
    if (!(await this.keys.isCurrent(entry.caller))) throw errors.invalidTicket()
    return entry.caller
  }

  /** Drops expired tickets, and the oldest of this user's past the cap. */
  private sweep(userId: string): void {
    const now = Date.now()
    const mine: string[] = []
    for (const [t, e] of this.tickets) {
      if (e.expiresAt <= now) this.tickets.delete(t)
      else if (e.caller.user.id === userId) mine.push(t)
    }
    for (const t of mine.slice(0, Math.max(0, mine.length - MAX_PER_USER + 1))) this.tickets.delete(t)
  }
}
