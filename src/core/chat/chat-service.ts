import { randomUUID } from 'node:crypto'
import { errors } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { ChatSessionRow, Store } from '../../store/index.js'
import type { AgentRunner } from '../agent.js'
import type { InstanceService } from '../instances.js'
import { KeyedLock } from '../keyed-lock.js'
import type { Actor } from '../scope.js'
import { type EventBus, MemoryBus } from '../shared/bus.js'
import type { SleepService } from '../sleep/sleep-service.js'
import { nowIso } from '../time.js'
import { ChatEventLog } from './event-log.js'
import { ChatFollower } from './follower.js'
import {
  closeDeadTurn,
  closeStaleTurns,
  closeTurn,
  type RecoveryDeps,
  staleBefore,
  TURN_HEARTBEAT_MS,
} from './recovery.js'
import { ChatTurn, type CoalesceOptions, DEFAULT_COALESCE, type TurnOutcome } from './turn.js'
import { turnError } from './turn-errors.js'
import {
  type ChatEvent,
  type ChatMessage,
  type ChatSession,
  type ChatTurnResult,
  messageFromRow,
  sessionFromRow,
} from './types.js'

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const TITLE_CHARS = 80
/** The longest a JSON events request may wait for its first event. */
export const MAX_WAIT_MS = 30_000
/** The longest an abort waits for another replica to record its turn's end. */
const REMOTE_ABORT_WAIT_MS = 10_000
/** How often an abort looks whether another replica's turn has ended, and asks it again. */
const REMOTE_ABORT_POLL_MS = 100
const REMOTE_ABORT_REPEAT_MS = 2_000

export interface ChatOptions {
  coalesce?: CoalesceOptions
  /** This process among the replicas (config.replicaId): the owner of the turns it runs. */
  replicaId?: string
  /** Where aborts reach the replica running a turn; one process's own bus by default. */
  bus?: EventBus
}

export interface SendInput {
  message: string
  session_id?: string
  /** The instance whose agent sends the message; stored with it. */
  from_instance?: string
  /** The user message's id; a second start with the same id fails instead of repeating it. */
  message_id?: string
}

/** A turn that has started: its user message and the cursor of its first event are stored. */
export interface StartedTurn {
  instanceId: string
  session: ChatSession
  userMessage: ChatMessage
  /** The cursor of the turn's `session` event; its stream is every session event from here. */
  firstCursor: number
  outcome: Promise<TurnOutcome>
}

export interface MessageQuery {
  session_id?: string
  tail?: boolean
  limit: number
  before?: number
  after?: number
}

export interface EventQuery {
  session_id?: string
  after: number
  limit: number
  wait_ms?: number
}

/**
 * Chat over an instance's agent: sessions, turns, history and the event log. A turn runs here,
 * not in the request that started it, so it completes and is stored whatever its client does;
 * at most one turn runs per session, across replicas: the one that runs it holds the session's
 * turn row (store.turns) and keeps it alive with a heartbeat; aborts reach it over the bus.
 */
export class ChatService {
  readonly events: ChatEventLog
  /** The owner of this process's turns. */
  readonly owner: string
  private readonly running = new Map<string, { turn: ChatTurn; outcome: Promise<TurnOutcome> }>()
  private readonly lock = new KeyedLock()
  private readonly tasks = new Set<Promise<unknown>>()
  private readonly coalesce: CoalesceOptions
  private readonly bus: EventBus
  private readonly unsubscribe: () => void
  private sleep?: SleepService
  private heartbeat?: NodeJS.Timeout
  private reaper?: NodeJS.Timeout
  private closed = false

  constructor(
    private readonly store: Store,
    private readonly instances: InstanceService,
    private readonly runner: AgentRunner,
    private readonly log: Logger,
    opts: ChatOptions = {},
  ) {
    this.bus = opts.bus ?? new MemoryBus()
    this.events = new ChatEventLog(store, this.bus)
    this.coalesce = opts.coalesce ?? DEFAULT_COALESCE
    this.owner = opts.replicaId ?? `chat-${randomUUID()}`
    this.unsubscribe = this.bus.subscribe('turn_abort', (id) => this.onAbortMessage(id))
  }

  /** Turns wake sleeping instances and keep them awake while they run. */
  attachSleep(sleep: SleepService): void {
    this.sleep = sleep
  }

  async listSessions(actor: Actor, instanceId: string): Promise<ChatSession[]> {
    const row = await this.instances.owned(actor, instanceId)
    return (await this.store.chat.listSessions(row.id)).map(sessionFromRow)
  }

  async createSession(actor: Actor, instanceId: string, input: { title?: string }): Promise<ChatSession> {
    const row = await this.instances.owned(actor, instanceId)
    return sessionFromRow(await this.newSession(row.id, input.title ?? null))
  }

  /** Starts a turn: checks, stores the user message and the turn's first events, then runs it. */
  async start(actor: Actor, instanceId: string, input: SendInput): Promise<StartedTurn> {
    const owned = await this.instances.owned(actor, instanceId)
    // A sleeping instance is woken first: the turn waits for its agent (bounded).
    const inst = this.sleep ? await this.sleep.awake(owned, 'agent') : owned
    if (inst.status !== 'ready') throw errors.instanceNotReady(inst.id, inst.status)
    const explicit =
      input.session_id === undefined ? undefined : await this.session(inst.id, input.session_id)
    return this.lock.run(inst.id, async () => {
      const session =
        explicit ?? (await this.store.chat.listSessions(inst.id))[0] ?? (await this.newSession(inst.id, null))
      if (this.running.has(session.id)) throw errors.turnInProgress(session.id)
      const at = nowIso()
      // The session's turn row, taken atomically: a live turn on any replica holds it.
      const claim = { instance_id: inst.id, session_id: session.id, owner: this.owner, now: at }
      if (!(await this.store.turns.claim(claim, staleBefore()))) throw errors.turnInProgress(session.id)
      try {
        return await this.begin(inst.id, session, input, at)
      } catch (err) {
        await this.releaseTurn(session.id)
        throw err
      }
    })
  }

  /** The turn's first writes and its run, once its row is held. */
  private async begin(
    instanceId: string,
    session: ChatSessionRow,
    input: SendInput,
    at: string,
  ): Promise<StartedTurn> {
    // A turn a dead owner left open (its row taken over just now) ends before this one starts.
    const open = await this.store.turns.openTurn(session.id)
    if (open !== undefined) {
      await closeTurn(this.store, this.events, {
        instance_id: instanceId,
        session_id: session.id,
        cursor: open,
      })
      this.log.warn({ instanceId, sessionId: session.id }, 'interrupted turn closed')
    }
    const userRow = await this.store.chat.appendMessage({
      id: input.message_id ?? randomUUID(),
      from_instance: input.from_instance ?? null,
      session_id: session.id,
      instance_id: instanceId,
      role: 'user',
      content: input.message,
      tool: null,
      status: 'complete',
      created_at: at,
      updated_at: at,
    })
    const title = session.title ?? input.message.replace(/\s+/g, ' ').trim().slice(0, TITLE_CHARS)
    await this.store.chat.updateSession(session.id, { title, last_activity: at, updated_at: at })
    const userMessage = messageFromRow(userRow)
    const first = await this.events.append(instanceId, session.id, 'session', { session_id: session.id })
    await this.events.append(instanceId, session.id, 'message', { message: userMessage })
    const turn = new ChatTurn(
      {
        store: this.store,
        events: this.events,
        runner: this.runner,
        log: this.log,
        coalesce: this.coalesce,
      },
      { instanceId, sessionId: session.id, sessionKey: session.session_key, userMessage },
    )
    // A running turn keeps its instance awake, however long it takes.
    const release = this.sleep?.tracker.hold(instanceId)
    // The row goes once the end is stored, and before the session is free here.
    const outcome = turn.run().then(async (out) => {
      await this.releaseTurn(session.id)
      this.running.delete(session.id)
      release?.()
      return out
    })
    this.running.set(session.id, { turn, outcome })
    this.track(outcome)
    this.beatWhileRunning()
    return {
      instanceId,
      session: sessionFromRow({ ...session, title, last_activity: at, updated_at: at }),
      userMessage,
      firstCursor: first.cursor,
      outcome,
    }
  }

  /** Runs a turn to its end; a failed turn is an error carrying the session and partial text. */
  async send(actor: Actor, instanceId: string, input: SendInput): Promise<ChatTurnResult> {
    const started = await this.start(actor, instanceId, input)
    const out = await started.outcome
    const session_id = started.session.id
    if (out.ok) return { session_id, message: out.message, messages: out.messages }
    throw turnError(out.code, out.error, { session_id, ...(out.partial ? { partial: out.partial } : {}) })
  }

  /**
   * Aborts the session's running turn, on whichever replica runs it, and waits until its end is
   * stored; false when none ran.
   */
  async abort(
    actor: Actor,
    instanceId: string,
    sessionId: string,
  ): Promise<{ session_id: string; aborted: boolean }> {
    const inst = await this.instances.owned(actor, instanceId)
    const session = await this.session(inst.id, sessionId)
    const run = this.running.get(session.id)
    if (run) {
      run.turn.abort()
      // Answer once the turn's end is stored, so what the client reads next shows it.
      await run.outcome
      return { session_id: session.id, aborted: true }
    }
    const row = await this.store.turns.get(session.id)
    if (!row) return { session_id: session.id, aborted: false }
    const stale = staleBefore()
    // Its owner is gone: the turn is closed here (server_restarted), as any replica would.
    if (row.heartbeat_at < stale) {
      const aborted = await closeDeadTurn(
        this.recoveryDeps(),
        { instance_id: inst.id, session_id: session.id },
        stale,
      )
      return { session_id: session.id, aborted }
    }
    await this.abortRemote(inst.id, session.id, row.started_at)
    return { session_id: session.id, aborted: true }
  }

  /** A window of a session's messages (the most recent session when none is named), oldest first. */
  async messages(actor: Actor, instanceId: string, q: MessageQuery): Promise<ChatMessage[]> {
    const inst = await this.instances.owned(actor, instanceId)
    const session = q.session_id
      ? await this.session(inst.id, q.session_id)
      : (await this.store.chat.listSessions(inst.id))[0]
    if (!session) return []
    const rows = await this.store.chat.listMessages(session.id, {
      limit: q.limit,
      tail: q.tail,
      ...(q.before !== undefined ? { before: q.before } : {}),
      ...(q.after !== undefined ? { after: q.after } : {}),
    })
    return rows.map(messageFromRow)
  }

  /** Where the instance's event log ends now (the instance's own id, however the caller spelt it). */
  async cursor(actor: Actor, instanceId: string): Promise<number> {
    const inst = await this.instances.owned(actor, instanceId)
    return this.store.chat.lastCursor(inst.id)
  }

  /** Persisted events after a cursor; with wait_ms, waits that long at most for the first one. */
  async listEvents(actor: Actor, instanceId: string, q: EventQuery): Promise<ChatEvent[]> {
    const inst = await this.instances.owned(actor, instanceId)
    if (q.session_id) await this.session(inst.id, q.session_id)
    const waitMs = Math.min(q.wait_ms ?? 0, MAX_WAIT_MS)
    if (waitMs <= 0) return this.events.list(inst.id, q.after, q.session_id, q.limit)
    const follower = new ChatFollower(this.events, {
      instanceId: inst.id,
      after: q.after,
      sessionId: q.session_id,
    })
    const timer = setTimeout(() => follower.close(), waitMs)
    try {
      for await (const _ of follower) break
    } finally {
      clearTimeout(timer)
      follower.close()
    }
    return this.events.list(inst.id, q.after, q.session_id, q.limit)
  }

  /**
   * Follows the instance's events (or one session's) after a cursor: persisted ones, then live.
   * With `untilTurnEnds`, it stops after the session's next `done` or `error`.
   */
  async follow(
    actor: Actor,
    instanceId: string,
    opts: { after: number; session_id?: string; untilTurnEnds?: boolean },
  ): Promise<ChatFollower> {
    const inst = await this.instances.owned(actor, instanceId)
    if (opts.session_id) await this.session(inst.id, opts.session_id)
    return this.followTurn(inst.id, opts.after, opts.session_id, opts.untilTurnEnds)
  }

  /** The follower of a started turn (no checks: its caller just started it). */
  followTurn(instanceId: string, after: number, sessionId?: string, untilTurnEnds = false): ChatFollower {
    return new ChatFollower(this.events, {
      instanceId,
      after,
      sessionId,
      ...(untilTurnEnds ? { until: (e: ChatEvent) => e.type === 'done' || e.type === 'error' } : {}),
    })
  }

  /** Ends the instance's running turns on every replica, when it stops, sleeps or is deleted. */
  abortInstance(instanceId: string, reason: string): void {
    this.abortLocal(instanceId, reason)
    this.bus.publish('turn_abort', instanceId).catch((err: unknown) => {
      this.log.warn({ err, instanceId }, 'turn abort not published')
    })
  }

  /**
   * Closes, every heartbeat, the turns of replicas that stopped beating (killed), so their
   * followers see them end; the server runs it, one-shot tools need not.
   */
  watchDeadOwners(): void {
    if (this.reaper || this.closed) return
    let busy = false
    this.reaper = setInterval(() => {
      if (busy) return
      busy = true
      closeStaleTurns(this.recoveryDeps())
        .catch((err: unknown) => this.log.warn({ err }, 'closing dead turns failed'))
        .finally(() => {
          busy = false
        })
    }, TURN_HEARTBEAT_MS)
    this.reaper.unref()
  }

  /** Whether a turn is running on the session. */
  isRunning(sessionId: string): boolean {
    return this.running.has(sessionId)
  }

  /** Ends running turns (their partial text is stored) and waits for them to be recorded. */
  async close(): Promise<void> {
    this.closed = true
    this.unsubscribe()
    clearInterval(this.reaper)
    for (const run of this.running.values())
      run.turn.abort({
        code: 'server_stopping',
        message: 'The server stopped during the turn; its text so far is kept.',
      })
    await Promise.allSettled([...this.tasks])
    clearInterval(this.heartbeat)
  }

  private recoveryDeps(): RecoveryDeps {
    return { store: this.store, events: this.events, log: this.log, owner: this.owner }
  }

  private async releaseTurn(sessionId: string): Promise<void> {
    try {
      await this.store.turns.release(sessionId, this.owner)
    } catch (err) {
      // Left behind, the row goes stale and another replica's sweep removes it.
      this.log.warn({ err, sessionId }, 'turn row not released')
    }
  }

  private abortLocal(instanceId: string, reason: string): void {
    for (const run of this.running.values())
      if (run.turn.ctx.instanceId === instanceId)
        run.turn.abort({ code: 'instance_stopping', message: `The turn ended: ${reason}.` })
  }

  /** `turn_abort` from any replica (this one's included): `instance/session`, or `instance`. */
  private onAbortMessage(id: string): void {
    if (id === '*') return
    const [instanceId, sessionId] = id.split('/')
    if (!instanceId) return
    if (sessionId === undefined) {
      this.abortLocal(instanceId, 'the instance is stopping')
      return
    }
    const run = this.running.get(sessionId)
    if (run && run.turn.ctx.instanceId === instanceId) run.turn.abort()
  }

  /**
   * Asks the replica running the turn to abort it and waits until its row is gone (its end is
   * stored), asking again now and then in case a wake-up was lost; bounded.
   */
  private async abortRemote(instanceId: string, sessionId: string, startedAt: string): Promise<void> {
    const deadline = Date.now() + REMOTE_ABORT_WAIT_MS
    let askedAt = 0
    while (Date.now() < deadline) {
      if (Date.now() - askedAt >= REMOTE_ABORT_REPEAT_MS) {
        askedAt = Date.now()
        // A failed publish is asked again; the wait stays bounded either way.
        await this.bus.publish('turn_abort', `${instanceId}/${sessionId}`).catch(() => {})
      }
      await new Promise((resolve) => setTimeout(resolve, REMOTE_ABORT_POLL_MS))
      const row = await this.store.turns.get(sessionId)
      if (!row || row.started_at !== startedAt) return
    }
    this.log.warn({ instanceId, sessionId }, 'aborted turn not ended in time')
  }

  /**
   * While turns run here, refreshes their rows' heartbeat; a turn whose row another replica took
   * over (this process stalled past the stale mark) stops without recording a second end.
   */
  private beatWhileRunning(): void {
    if (this.heartbeat) return
    let busy = false
    this.heartbeat = setInterval(() => {
      if (this.running.size === 0) {
        clearInterval(this.heartbeat)
        this.heartbeat = undefined
        return
      }
      if (busy) return
      busy = true
      const beating = [...this.running.keys()]
      this.store.turns
        .beat(this.owner, nowIso())
        .then((owned) => {
          const held = new Set(owned)
          for (const sessionId of beating) {
            if (held.has(sessionId)) continue
            const run = this.running.get(sessionId)
            if (!run) continue
            this.log.warn(
              { instanceId: run.turn.ctx.instanceId, sessionId },
              'turn taken over by another server',
            )
            run.turn.abandon()
          }
        })
        .catch((err: unknown) => this.log.warn({ err }, 'turn heartbeat failed'))
        .finally(() => {
          busy = false
        })
    }, TURN_HEARTBEAT_MS)
    this.heartbeat.unref()
  }

  private async session(instanceId: string, id: string): Promise<ChatSessionRow> {
    const row = UUID_RE.test(id) ? await this.store.chat.getSession(instanceId, id.toLowerCase()) : undefined
    if (!row) throw errors.chatSessionNotFound(id)
    return row
  }

  private async newSession(instanceId: string, title: string | null): Promise<ChatSessionRow> {
    const at = nowIso()
    const id = randomUUID()
    const row: ChatSessionRow = {
      id,
      instance_id: instanceId,
      title,
      session_key: `clawport-${id}`,
      created_at: at,
      updated_at: at,
      last_activity: at,
    }
    await this.store.chat.createSession(row)
    return row
  }

  private track(p: Promise<unknown>): void {
    this.tasks.add(p)
    void p.finally(() => this.tasks.delete(p))
  }
}
