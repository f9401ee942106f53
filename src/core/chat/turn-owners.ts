import type { Logger } from '../../log.js'
import type { Store } from '../../store/index.js'
import type { EventBus } from '../shared/bus.js'
import { nowIso } from '../time.js'
import type { ChatEventLog } from './event-log.js'
import {
  closeDeadTurn,
  closeStaleTurns,
  closeTurn,
  type RecoveryDeps,
  staleBefore,
  TURN_HEARTBEAT_MS,
} from './recovery.js'

/** The longest an abort waits for another replica to record its turn's end. */
const REMOTE_ABORT_WAIT_MS = 10_000
/** How often an abort looks whether another replica's turn has ended, and asks it again. */
const REMOTE_ABORT_POLL_MS = 100
const REMOTE_ABORT_REPEAT_MS = 2_000

/** What the chat service runs here, as the owner sees it. */
export interface LocalTurns {
  /** Sessions whose turn runs in this process. */
  sessions(): string[]
  /** Aborts the session's turn here (code `aborted`), when it runs here. */
  abort(instanceId: string, sessionId: string): void
  /** Ends the instance's turns here (code `instance_stopping`). */
  abortInstance(instanceId: string, reason: string): void
  /** Stops the session's turn without recording its end: another replica closed it. */
  abandon(sessionId: string): void
}

/**
 * The turns this replica runs, as the replicas see them: each one's row in store.turns (taken
 * when it starts, kept fresh by a heartbeat, dropped once its end is stored), aborts to and from
 * other replicas over the bus (`turn_abort`), and the sweep of dead owners' turns.
 */
export class TurnOwners {
  private readonly unsubscribe: () => void
  private heartbeat?: NodeJS.Timeout
  private sweeper?: NodeJS.Timeout
  private closed = false

  constructor(
    private readonly store: Store,
    private readonly events: ChatEventLog,
    private readonly bus: EventBus,
    private readonly log: Logger,
    /** This replica (config.replicaId). */
    readonly owner: string,
    private readonly local: LocalTurns,
  ) {
    this.unsubscribe = bus.subscribe('turn_abort', (id) => this.onAbort(id))
  }

  /**
   * Takes the session's turn for this replica: false while a live owner (here or elsewhere)
   * holds it. A turn a dead owner left open is closed first, so the new turn's events follow
   * its end.
   */
  async claim(instanceId: string, sessionId: string, now: string): Promise<boolean> {
    const claim = { instance_id: instanceId, session_id: sessionId, owner: this.owner, now }
    if (!(await this.store.turns.claim(claim, staleBefore()))) return false
    try {
      const open = await this.store.turns.openTurn(sessionId)
      if (open !== undefined) {
        await closeTurn(this.store, this.events, {
          instance_id: instanceId,
          session_id: sessionId,
          cursor: open,
        })
        this.log.warn({ instanceId, sessionId }, 'interrupted turn closed')
      }
    } catch (err) {
      await this.release(sessionId)
      throw err
    }
    return true
  }

  /** Drops this replica's row of the session, once its turn's end is stored (or it never began). */
  async release(sessionId: string): Promise<void> {
    try {
      await this.store.turns.release(sessionId, this.owner)
    } catch (err) {
      // Left behind, the row goes stale and a replica's sweep removes it.
      this.log.warn({ err, sessionId }, 'turn row not released')
    }
  }

  /**
   * Aborts the session's turn where it runs, when not here, and waits (bounded) until its end is
   * stored. A dead owner's turn is closed here instead. False when no turn ran.
   */
  async abortElsewhere(instanceId: string, sessionId: string): Promise<boolean> {
    const row = await this.store.turns.get(sessionId)
    if (!row) return false
    const stale = staleBefore()
    if (row.heartbeat_at < stale)
      return closeDeadTurn(this.recoveryDeps(), { instance_id: instanceId, session_id: sessionId }, stale)
    const deadline = Date.now() + REMOTE_ABORT_WAIT_MS
    let askedAt = 0
    while (Date.now() < deadline) {
      // Asked again now and then: a wake-up may be lost (the bus reconnecting).
      if (Date.now() - askedAt >= REMOTE_ABORT_REPEAT_MS) {
        askedAt = Date.now()
        await this.bus.publish('turn_abort', `${instanceId}/${sessionId}`).catch(() => {})
      }
      await new Promise((resolve) => setTimeout(resolve, REMOTE_ABORT_POLL_MS))
      const now = await this.store.turns.get(sessionId)
      if (!now || now.started_at !== row.started_at) return true
    }
    this.log.warn({ instanceId, sessionId }, 'aborted turn not ended in time')
    return true
  }

  /** Asks every replica to end the instance's turns (it is stopping or going to sleep). */
  abortInstance(instanceId: string): void {
    this.bus.publish('turn_abort', instanceId).catch((err: unknown) => {
      this.log.warn({ err, instanceId }, 'turn abort not published')
    })
  }

  /**
   * While turns run here, refreshes their rows' heartbeat every few seconds; a turn whose row
   * another replica took over (this process stalled past the stale mark) is abandoned.
   */
  beat(): void {
    if (this.heartbeat || this.closed) return
    let busy = false
    this.heartbeat = setInterval(() => {
      const beating = this.local.sessions()
      if (beating.length === 0) {
        clearInterval(this.heartbeat)
        this.heartbeat = undefined
        return
      }
      if (busy) return
      busy = true
      this.store.turns
        .beat(this.owner, beating, nowIso())
        .then((owned) => {
          const held = new Set(owned)
          for (const sessionId of beating) {
            if (held.has(sessionId)) continue
            this.log.warn({ sessionId }, 'turn taken over by another server')
            this.local.abandon(sessionId)
          }
        })
        .catch((err: unknown) => this.log.warn({ err }, 'turn heartbeat failed'))
        .finally(() => {
          busy = false
        })
    }, TURN_HEARTBEAT_MS)
    this.heartbeat.unref()
  }

  /**
   * Closes, every heartbeat, the turns of replicas that stopped beating (killed), so their
   * followers see them end; one replica closes each.
   */
  watchDeadOwners(): void {
    if (this.sweeper || this.closed) return
    let busy = false
    this.sweeper = setInterval(() => {
      if (busy) return
      busy = true
      // This process's own running turns are alive whatever their row says (a late beat).
      closeStaleTurns(this.recoveryDeps(), staleBefore(), new Set(this.local.sessions()))
        .catch((err: unknown) => this.log.warn({ err }, 'closing dead turns failed'))
        .finally(() => {
          busy = false
        })
    }, TURN_HEARTBEAT_MS)
    this.sweeper.unref()
  }

  /** Stops listening and sweeping; the heartbeat stops once the last local turn has ended. */
  stopWatching(): void {
    this.closed = true
    this.unsubscribe()
    clearInterval(this.sweeper)
  }

  /** Stops the heartbeat (after every local turn has been recorded). */
  close(): void {
    this.stopWatching()
    clearInterval(this.heartbeat)
  }

  private recoveryDeps(): RecoveryDeps {
    return { store: this.store, events: this.events, log: this.log, owner: this.owner }
  }

  /** `turn_abort` from any replica (this one's included): `instance/session`, or `instance`. */
  private onAbort(id: string): void {
    if (id === '*') return
    const [instanceId, sessionId] = id.split('/')
    if (!instanceId) return
    if (sessionId === undefined) this.local.abortInstance(instanceId, 'the instance is stopping')
    else this.local.abort(instanceId, sessionId)
  }
}
