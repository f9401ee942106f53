import { errors } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { PipelineRunRow } from '../../store/automation-store.js'
import type { Store } from '../../store/index.js'
import type { ChatService } from '../chat/chat-service.js'
import { type Actor, asUser, type InstanceScope } from '../scope.js'
import type { EventBus } from '../shared/bus.js'
import type { SleepService } from '../sleep/sleep-service.js'
import { nowIso } from '../time.js'
import type { WorkspaceService } from '../workspace.js'
import {
  flatSteps,
  isFinished,
  type PipelineRun,
  type PipelineStep,
  render,
  runFromRow,
  type StepState,
  type StepTarget,
  stagesOf,
} from './pipeline-types.js'

/** What a run's stream sees: the whole run when its status moves, a step when it does. */
export type RunEvent = { type: 'run'; run: PipelineRun } | { type: 'step'; step: StepState }

class Canceled extends Error {}

/** How long a run stays this replica's without a heartbeat; renewed every third of it. */
export const RUN_LEASE_MS = 30_000
const HEARTBEAT_MS = RUN_LEASE_MS / 3

/** How long closing waits for the runs under way to settle before leaving their leases to expire. */
const CLOSE_WAIT_MS = 5_000

/**
 * Executes pipeline runs, stage by stage (steps of a stage at the same time), writing each
 * step's state to the store as it moves, so a run can be followed, cancelled, and resumed where
 * it stood after a restart (steps that had finished are not run again). A run is executed by the
 * replica holding its lease (`lease_owner`, renewed by a heartbeat); when that replica dies, the
 * lease expires and another one resumes the run.
 */
export class PipelineRunner {
  private readonly active = new Map<string, AbortController>()
  /** Runs whose lease another replica took (this one stalled): they end here without a write. */
  private readonly lost = new Set<string>()
  private readonly listeners = new Map<string, Set<(e: RunEvent) => void>>()
  private readonly tasks = new Set<Promise<unknown>>()
  private heartbeat?: NodeJS.Timeout
  private closed = false
  private sleep?: SleepService
  private bus?: EventBus
  private unsubscribeBus?: () => void
  /** What followers here last saw of runs another replica executes, to tell what moved. */
  private readonly seen = new Map<string, PipelineRun>()

  constructor(
    private readonly store: Store,
    private readonly chat: ChatService,
    private readonly workspace: WorkspaceService,
    private readonly scope: InstanceScope,
    private readonly log: Logger,
    /** This replica, as runs' lease owner. */
    readonly owner = 'local',
  ) {}

  /**
   * Replicas (PostgreSQL): every move of a run is told over the bus, so a run followed on one
   * replica and executed on another streams its steps all the same. A follower's replica reads
   * the run from the store on each wake-up and sends what changed since it last looked.
   */
  attachBus(bus: EventBus): void {
    if (this.store.dialect !== 'postgres') return
    this.bus = bus
    this.unsubscribeBus = bus.subscribe('pipeline_run', (id) => {
      const ids = id === '*' ? [...this.listeners.keys()] : [id]
      for (const runId of ids) {
        // Executed here: its followers already had every event.
        if (this.active.has(runId) || !this.listeners.has(runId)) continue
        void this.relayRemote(runId).catch((err: unknown) =>
          this.log.warn({ err, runId }, 'pipeline run moved elsewhere, not read'),
        )
      }
    })
  }

  private async relayRemote(runId: string): Promise<void> {
    const row = await this.store.automation.pipelines.getRun(runId)
    if (!row || !this.listeners.has(runId)) return
    const run = runFromRow(row)
    const before = this.seen.get(runId)
    this.seen.set(runId, run)
    run.steps.forEach((step, i) => {
      if (JSON.stringify(step) !== JSON.stringify(before?.steps[i]))
        this.deliver(runId, { type: 'step', step })
    })
    if (!before || before.status !== run.status) this.deliver(runId, { type: 'run', run })
  }

  /** The lease a run stored now by this replica starts with. */
  lease(): { lease_owner: string; lease_expires_at: string } {
    return { lease_owner: this.owner, lease_expires_at: leaseUntil() }
  }

  /** Starts executing a stored run in the background, unless another replica holds its lease. */
  launch(runId: string): void {
    if (this.active.has(runId) || this.closed) return
    const ctl = new AbortController()
    this.active.set(runId, ctl)
    const task = this.execute(runId, ctl.signal)
      .catch((err: unknown) => this.log.error({ err, runId }, 'pipeline run failed'))
      .finally(() => {
        this.active.delete(runId)
        this.lost.delete(runId)
        this.tasks.delete(task)
      })
    this.tasks.add(task)
  }

  /**
   * Resumes the unfinished runs nobody holds: those of a replica that died (its lease expired),
   * then renews this replica's leases every few seconds and takes over expired ones. One server
   * on SQLite is alone with its data folder: every unfinished run is its own at start.
   */
  async start(): Promise<void> {
    await this.resume(this.store.dialect === 'sqlite')
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS)
    this.heartbeat.unref()
  }

  /** Launches each unfinished run whose lease this replica could take. */
  async resume(force = false): Promise<void> {
    const now = nowIso()
    for (const row of await this.store.automation.pipelines.unfinishedRuns()) {
      if (this.active.has(row.id) || this.closed) continue
      if (!(await this.store.automation.pipelines.claimRun(row.id, this.owner, now, leaseUntil(), force)))
        continue
      this.log.info({ runId: row.id, previousOwner: row.lease_owner ?? null }, 'pipeline run resumed')
      this.launch(row.id)
    }
  }

  /** Renews the leases of the runs executing here; a run whose lease was lost stops here. */
  private async beat(): Promise<void> {
    if (this.closed) return
    try {
      const ids = [...this.active.keys()]
      const kept = new Set(await this.store.automation.pipelines.renewRuns(this.owner, ids, leaseUntil()))
      for (const id of ids) {
        if (kept.has(id) || !this.active.has(id)) continue
        this.log.warn({ runId: id }, 'pipeline run no longer held here (canceled or taken over elsewhere)')
        this.lost.add(id)
        this.active.get(id)?.abort()
      }
      if (this.store.dialect === 'postgres') await this.resume()
    } catch (err) {
      this.log.error({ err }, 'pipeline run heartbeat failed')
    }
  }

  /** Cancels a running run; true when it was running here. */
  cancel(runId: string): boolean {
    const ctl = this.active.get(runId)
    ctl?.abort()
    return ctl !== undefined
  }

  /**
   * Cancels a run executed elsewhere (another replica) or nowhere yet: it is ended in the store,
   * and its executor stops at its next write or heartbeat. False when it had finished.
   */
  async cancelElsewhere(row: PipelineRunRow): Promise<boolean> {
    const run = runFromRow(row)
    for (const s of run.steps) if (s.status === 'pending' || s.status === 'running') s.status = 'canceled'
    const at = nowIso()
    const ended = await this.store.automation.pipelines.cancelRun(row.id, {
      status: 'canceled',
      steps: run.steps,
      error: 'The run was canceled.',
      finished_at: at,
      updated_at: at,
    })
    if (ended) this.emit(row.id, { type: 'run', run: { ...run, status: 'canceled', finished_at: at } })
    return ended
  }

  subscribe(runId: string, fn: (e: RunEvent) => void): () => void {
    let set = this.listeners.get(runId)
    if (!set) {
      set = new Set()
      this.listeners.set(runId, set)
    }
    set.add(fn)
    // Followed from a replica that does not execute it: start from the stored run.
    if (this.bus && !this.active.has(runId) && !this.seen.has(runId)) {
      void this.store.automation.pipelines
        .getRun(runId)
        .then((row) => row && !this.seen.has(runId) && this.seen.set(runId, runFromRow(row)))
        .catch(() => {})
    }
    return () => {
      set.delete(fn)
      if (set.size === 0) {
        this.listeners.delete(runId)
        this.seen.delete(runId)
      }
    }
  }

  /**
   * Stops starting steps; runs stay `running` in the store, their leases freed once the steps
   * under way have ended (or 5 s), so that another replica (or the next process) resumes them.
   */
  async close(): Promise<void> {
    this.closed = true
    this.unsubscribeBus?.()
    clearInterval(this.heartbeat)
    const settled = Promise.allSettled([...this.tasks]).then(() => true)
    // The timer is cleared once the runs settle: left running, it kept a closing process (a
    // `clawport admin` command) alive for its whole length.
    let timer: NodeJS.Timeout | undefined
    const all = await Promise.race([
      settled,
      new Promise<false>((r) => {
        timer = setTimeout(() => r(false), CLOSE_WAIT_MS)
      }),
    ]).finally(() => clearTimeout(timer))
    // Steps still under way keep their lease until it expires: nobody runs them twice meanwhile.
    if (all) {
      await this.store.automation.pipelines
        .releaseRuns(this.owner)
        .catch((err: unknown) => this.log.warn({ err }, 'pipeline run leases not released'))
    }
  }

  private emit(runId: string, e: RunEvent): void {
    this.deliver(runId, e)
    void this.bus
      ?.publish('pipeline_run', runId)
      .catch((err: unknown) => this.log.warn({ err, runId }, 'pipeline run wake-up not sent'))
  }

  private deliver(runId: string, e: RunEvent): void {
    for (const fn of this.listeners.get(runId) ?? []) fn(e)
  }

  private async execute(runId: string, signal: AbortSignal): Promise<void> {
    // Held here already (stored or resumed by this replica), or free: anyone else's stays theirs.
    if (!(await this.store.automation.pipelines.claimRun(runId, this.owner, nowIso(), leaseUntil()))) return
    const row = await this.store.automation.pipelines.getRun(runId)
    const pipeline = row ? await this.store.automation.pipelines.get(row.pipeline_id) : undefined
    if (!row || !pipeline) return
    const run = runFromRow(row)
    if (isFinished(run.status)) return
    // A run started from inside an instance reaches only what that instance may, step by step.
    const actor: Actor = row.scope_instance_id
      ? { user: { id: row.user_id }, instanceId: row.scope_instance_id }
      : asUser(row.user_id)
    const stages = stagesOf(pipeline)
    const all = flatSteps(stages)
    // Its chat steps talk in the run's own session on each instance, titled so chat lists tell it apart.
    const sessions = new Map<string, Promise<string>>()
    const chatSession = (instanceId: string): Promise<string> => {
      let id = sessions.get(instanceId)
      if (!id) {
        const title = `Pipeline: ${pipeline.name} · run ${run.id.slice(0, 8)}`
        id = this.chat.createSession(actor, instanceId, { title }).then((s) => s.id)
        id.catch(() => sessions.delete(instanceId))
        sessions.set(instanceId, id)
      }
      return id
    }
    // A step cut by a stop runs again; finished ones keep their output.
    for (const s of run.steps) if (s.status === 'running') s.status = 'pending'
    const save = async (patch: Partial<PipelineRun> = {}) => {
      Object.assign(run, patch)
      const held = await this.store.automation.pipelines.updateRun(
        run.id,
        {
          status: run.status,
          steps: run.steps,
          error: run.error,
          started_at: run.started_at,
          finished_at: run.finished_at,
          updated_at: nowIso(),
        },
        this.owner,
      )
      // Canceled on another replica, or taken over after this one stalled: it stops here.
      if (!held) {
        this.lost.add(run.id)
        this.active.get(run.id)?.abort() // its other steps under way stop too
        throw new Canceled()
      }
    }
    await save({ status: 'running', started_at: run.started_at ?? nowIso() })
    this.emit(run.id, { type: 'run', run })
    try {
      for (let stage = 0; stage < stages.length; stage++) {
        const here = all.filter((s) => s.stage === stage)
        await Promise.all(
          here.map(async ({ step }) => {
            const state = run.steps.find((s) => s.name === step.name) as StepState
            if (state.status === 'succeeded') return
            await this.runStep(actor, run, step, state, signal, save, chatSession)
          }),
        )
        const failed = run.steps.find((s) => s.stage === stage && s.status === 'failed')
        if (failed) throw new Error(`step ${failed.name} failed: ${failed.error}`)
      }
      await save({ status: 'succeeded', finished_at: nowIso() })
    } catch (err) {
      if (this.closed && !signal.aborted) return // the next process resumes it
      if (this.lost.delete(run.id)) return // the replica that took it over carries on
      const canceled = signal.aborted
      for (const s of run.steps)
        if (s.status === 'pending' || s.status === 'running') s.status = canceled ? 'canceled' : 'skipped'
      await save({
        status: canceled ? 'canceled' : 'failed',
        error: canceled ? 'The run was canceled.' : err instanceof Error ? err.message : String(err),
        finished_at: nowIso(),
      })
    }
    this.emit(run.id, { type: 'run', run })
  }

  private async runStep(
    actor: Actor,
    run: PipelineRun,
    step: PipelineStep,
    state: StepState,
    signal: AbortSignal,
    save: () => Promise<void>,
    chatSession: (instanceId: string) => Promise<string>,
  ): Promise<void> {
    for (;;) {
      if (signal.aborted) throw new Canceled()
      if (this.closed) throw new Error('the server is stopping')
      const started = Date.now()
      Object.assign(state, { status: 'running', started_at: nowIso(), finished_at: null, error: null })
      state.attempts += 1
      await save()
      this.emit(run.id, { type: 'step', step: state })
      try {
        const ctx = { steps: run.steps, input: run.input, runId: run.id }
        const output = await abortable(
          this.perform(actor, step, (t) => render(t, ctx), chatSession),
          signal,
        )
        Object.assign(state, {
          status: 'succeeded',
          output,
          finished_at: nowIso(),
          duration_ms: Date.now() - started,
        })
      } catch (err) {
        if (signal.aborted || this.closed) throw err
        const message = err instanceof Error ? err.message : String(err)
        const retry = state.attempts <= step.retries
        Object.assign(state, {
          status: retry ? 'pending' : 'failed',
          error: message,
          finished_at: nowIso(),
          duration_ms: Date.now() - started,
        })
        await save()
        this.emit(run.id, { type: 'step', step: state })
        if (!retry) return
        await abortable(
          new Promise((r) => setTimeout(r, step.backoff_ms * 2 ** (state.attempts - 1))),
          signal,
        )
        continue
      }
      await save()
      this.emit(run.id, { type: 'step', step: state })
      return
    }
  }

  /** Steps count as use of their instances (a chat step also wakes one, through the chat service). */
  attachSleep(sleep: SleepService): void {
    this.sleep = sleep
  }

  private async perform(
    actor: Actor,
    step: PipelineStep,
    fill: (t: string) => string,
    chatSession: (instanceId: string) => Promise<string>,
  ): Promise<string> {
    switch (step.type) {
      case 'chat': {
        const id = await this.target(actor, step)
        const session_id = await chatSession(id)
        const out = await this.chat.send(actor, id, { message: fill(step.message), session_id })
        return out.message.content
      }
      case 'exec': {
        const id = await this.target(actor, step)
        const r = await this.workspace.exec(actor, id, {
          command: fill(step.command),
          ...(step.cwd ? { cwd: fill(step.cwd) } : {}),
          ...(step.timeout_ms ? { timeout_ms: step.timeout_ms } : {}),
        })
        // Touched once the instance is known to be the actor's, never on a stranger's id.
        this.sleep?.tracker.touch(id)
        if (r.timed_out) throw new Error('the command timed out')
        if (r.exit_code !== 0) throw new Error(`exit code ${r.exit_code}: ${r.stderr.trim().slice(0, 2000)}`)
        return r.stdout.replace(/\n$/, '')
      }
      case 'copy': {
        const from = await this.target(actor, step.from)
        const to = await this.target(actor, step.to)
        const file = await this.workspace.read(actor, from, fill(step.from.path))
        const written = await this.workspace.write(actor, to, fill(step.to.path), file.content, file.encoding)
        for (const used of [from, to]) this.sleep?.tracker.touch(used)
        return written.path
      }
    }
  }

  /** The instance a step runs on; a swarm member by position (from 1) or by role. */
  async target(actor: Actor, t: StepTarget): Promise<string> {
    if (t.instance_id) return t.instance_id
    if (!t.swarm_id) throw errors.validation('A step needs instance_id, or swarm_id with member.')
    const swarm = await this.store.automation.swarms.get(t.swarm_id)
    if (!swarm || swarm.user_id !== actor.user.id) throw errors.swarmNotFound(t.swarm_id)
    await this.scope.checkSwarm(actor, swarm.id)
    const members = await this.store.automation.swarms.members(swarm.id)
    const m =
      typeof t.member === 'string' ? members.find((x) => x.role === t.member) : members[(t.member ?? 1) - 1]
    if (!m) throw errors.validation(`Swarm ${swarm.id} has no member ${String(t.member ?? 1)}.`)
    return m.instance_id
  }
}

function leaseUntil(): string {
  return new Date(Date.now() + RUN_LEASE_MS).toISOString()
}

/** Rejects when the signal aborts, whatever the work does. */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Canceled())
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Canceled())
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}
