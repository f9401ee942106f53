import { randomUUID } from 'node:crypto'
import { errors } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { ChatSessionRow, Store } from '../../store/index.js'
import type { AgentRunner } from '../agent.js'
import { UUID_RE } from '../ids.js'
import type { InstanceService } from '../instances.js'
import { KeyedLock } from '../keyed-lock.js'
import type { Actor } from '../scope.js'
import { type EventBus, MemoryBus } from '../shared/bus.js'
import type { SleepService } from '../sleep/sleep-service.js'
import { nowIso } from '../time.js'
import { ChatEventLog } from './event-log.js'
import { ChatFollower } from './follower.js'
import { ChatTurn, type CoalesceOptions, DEFAULT_COALESCE, type TurnOutcome } from './turn.js'
import { turnError } from './turn-errors.js'
import { TurnOwners } from './turn-owners.js'
import {
  type ChatEvent,
  type ChatMessage,
  type ChatSession,
  type ChatTurnResult,
  messageFromRow,
  sessionFromRow,
} from './types.js'

const TITLE_CHARS = 80
/** The longest a JSON events request may wait for its first event. */
export const MAX_WAIT_MS = 30_000

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
  /** This replica's hold on the turns it runs, and aborts to and from the others. */
  readonly owners: TurnOwners
  private readonly running = new Map<string, { turn: ChatTurn; outcome: Promise<TurnOutcome> }>()
  private readonly lock = new KeyedLock()
  private readonly tasks = new Set<Promise<unknown>>()
  private readonly coalesce: CoalesceOptions
  private sleep?: SleepService

  constructor(
    private readonly store: Store,
    private readonly instances: InstanceService,
    private readonly runner: AgentRunner,
    private readonly log: Logger,
    opts: ChatOptions = {},
  ) {
    const bus = opts.bus ?? new MemoryBus()
    this.events = new ChatEventLog(store, bus)
    this.coalesce = opts.coalesce ?? DEFAULT_COALESCE
    this.owners = new TurnOwners(store, this.events, bus, log, opts.replicaId ?? `chat-${randomUUID()}`, {
      sessions: () => [...this.running.keys()],
      abort: (instanceId, sessionId) => {
        const run = this.running.get(sessionId)
        if (run?.turn.ctx.instanceId === instanceId) run.turn.abort()
      },
      abortInstance: (instanceId, reason) => this.abortLocal(instanceId, reason),
      abandon: (sessionId) => this.running.get(sessionId)?.turn.abandon(),
    })
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
      if (!(await this.owners.claim(inst.id, session.id, at))) throw errors.turnInProgress(session.id)
      try {
        return await this.begin(inst.id, session, input, at)
      } catch (err) {
        await this.owners.release(session.id)
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
      await this.owners.release(session.id)
      this.running.delete(session.id)
      release?.()
      return out
    })
    this.running.set(session.id, { turn, outcome })
    this.track(outcome)
    this.owners.beat()
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
    return { session_id: session.id, aborted: await this.owners.abortElsewhere(inst.id, session.id) }
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
    this.owners.abortInstance(instanceId)
  }

  /** Sweeps, while serving, the turns of replicas that were killed (see TurnOwners). */
  watchDeadOwners(): void {
    this.owners.watchDeadOwners()
  }

  /** Whether a turn is running on the session. */
  isRunning(sessionId: string): boolean {
    return this.running.has(sessionId)
  }

  /** Ends running turns (their partial text is stored) and waits for them to be recorded. */
  async close(): Promise<void> {
    this.owners.stopWatching()
    for (const run of this.running.values())
      run.turn.abort({
        code: 'server_stopping',
        message: 'The server stopped during the turn; its text so far is kept.',
      })
    await Promise.allSettled([...this.tasks])
    this.owners.close()
  }

  private abortLocal(instanceId: string, reason: string): void {
    for (const run of this.running.values())
      if (run.turn.ctx.instanceId === instanceId)
        run.turn.abort({ code: 'instance_stopping', message: `The turn ended: ${reason}.` })
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
