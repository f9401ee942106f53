import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { errors } from '../../errors.js'
import { sha256 } from '../../lib/hash.js'
import type { Logger } from '../../log.js'
import type { PipelineRow } from '../../store/automation-store.js'
import type { Store } from '../../store/index.js'
import { UUID_RE } from '../ids.js'
import type { InstanceService } from '../instances.js'
import type { Caller } from '../keys.js'
import type { Actor, InstanceScope } from '../scope.js'
import { nowIso } from '../time.js'
import type { PipelineRunner, RunEvent } from './pipeline-runner.js'
import {
  flatSteps,
  type Pipeline,
  type PipelineCreateBody,
  type PipelineRun,
  runFromRow,
  type StepState,
  stagesOf,
  stepTargets,
} from './pipeline-types.js'
import { checkSchedule, parseSchedule } from './schedule.js'

const SCHEDULE_TICK_MS = 1_000

/** Stored pipelines, their triggers (manual, cron schedule, webhook) and their runs. */
export class PipelineService {
  private timer?: NodeJS.Timeout

  constructor(
    private readonly store: Store,
    private readonly instances: InstanceService,
    private readonly scope: InstanceScope,
    readonly runner: PipelineRunner,
    private readonly publicUrl: string | undefined,
    private readonly log: Logger,
    private readonly scheduleMinIntervalMs = 60_000,
  ) {}

  async create(caller: Caller, body: PipelineCreateBody): Promise<Pipeline> {
    await this.checkBody(caller, body)
    const schedule = body.schedule ?? null
    const at = nowIso()
    const secret = body.webhook ? randomBytes(24).toString('base64url') : undefined
    const row: PipelineRow = {
      id: randomUUID(),
      user_id: caller.user.id,
      name: body.name,
      spec: { steps: body.steps },
      schedule,
      next_run_at: schedule ? nextRun(schedule, new Date()) : null,
      webhook_hash: secret ? sha256(secret, 'hex') : null,
      created_at: at,
      updated_at: at,
    }
    await this.store.automation.pipelines.insert(row)
    return { ...this.toPublic(row), ...(secret ? { webhook_url: this.webhookUrl(row.id, secret) } : {}) }
  }

  /**
   * Replaces a pipeline's name, steps, schedule and webhook; its runs stay. A webhook it had keeps
   * its URL (`webhook: true`); a new one's URL is in this answer only. 409 while a run is unfinished.
   */
  async update(caller: Caller, id: string, body: PipelineCreateBody): Promise<Pipeline> {
    const row = await this.owned(caller, id)
    await this.checkBody(caller, body)
    const busy = (await this.store.automation.pipelines.listRuns(row.id, 1000)).some(
      (r) => r.status === 'queued' || r.status === 'running',
    )
    if (busy)
      throw errors.conflict('A run of this pipeline has not finished; wait for it or cancel it, then edit.')
    const schedule = body.schedule ?? null
    const secret = body.webhook && !row.webhook_hash ? randomBytes(24).toString('base64url') : undefined
    const patch = {
      name: body.name,
      spec: { steps: body.steps },
      schedule,
      next_run_at: schedule ? nextRun(schedule, new Date()) : null,
      webhook_hash: body.webhook ? (secret ? sha256(secret, 'hex') : row.webhook_hash) : null,
      updated_at: nowIso(),
    }
    await this.store.automation.pipelines.update(row.id, patch)
    const updated = { ...row, ...patch }
    return { ...this.toPublic(updated), ...(secret ? { webhook_url: this.webhookUrl(row.id, secret) } : {}) }
  }

  /** 422 for a bad schedule or step; 404 for a step on an instance or swarm the caller does not reach. */
  private async checkBody(caller: Caller, body: PipelineCreateBody): Promise<void> {
    if (body.schedule) checkSchedule(body.schedule, this.scheduleMinIntervalMs)
    const steps = flatSteps(body.steps)
    const names = new Set<string>()
    for (const { step } of steps) {
      if (names.has(step.name)) throw errors.validation(`Two steps are named "${step.name}".`)
      names.add(step.name)
      const ends = step.type === 'copy' ? [step.from, step.to] : [step]
      for (const t of ends) {
        if (t.instance_id) {
          // A pipeline runs as its user: only their own instances, an administrator's too.
          t.instance_id = (await this.instances.own(caller, t.instance_id)).id
        } else if (t.swarm_id) {
          await this.runner.target(caller, t)
        } else throw errors.validation(`Step "${step.name}" needs instance_id, or swarm_id with member.`)
      }
    }
  }

  /** The caller's pipelines; from inside a swarm, only those whose every step stays in the swarm. */
  async list(caller: Caller): Promise<Pipeline[]> {
    const out: Pipeline[] = []
    for (const row of await this.store.automation.pipelines.listByUser(caller.user.id))
      if (await this.scope.reachesAll(caller, stepTargets(stagesOf(row)))) out.push(this.toPublic(row))
    return out
  }

  async get(caller: Caller, id: string): Promise<Pipeline> {
    return this.toPublic(await this.owned(caller, id))
  }

  async remove(caller: Caller, id: string): Promise<void> {
    const row = await this.owned(caller, id)
    for (const r of await this.store.automation.pipelines.listRuns(row.id, 1000)) this.runner.cancel(r.id)
    await this.store.automation.pipelines.remove(row.id)
  }

  /** Starts a run by hand. */
  async trigger(caller: Caller, id: string, input: Record<string, unknown>): Promise<PipelineRun> {
    return this.startRun(await this.owned(caller, id), 'manual', input, caller.instanceId)
  }

  /**
   * Starts a run from the pipeline's webhook; a wrong secret is a 404, like an unknown pipeline.
   * Called from inside an instance (`from`), the secret grants no more than the instance's scope.
   */
  async webhook(
    id: string,
    secret: string,
    input: Record<string, unknown>,
    from?: Actor,
  ): Promise<PipelineRun> {
    const row = UUID_RE.test(id) ? await this.store.automation.pipelines.get(id.toLowerCase()) : undefined
    const ok =
      row?.webhook_hash &&
      timingSafeEqual(Buffer.from(row.webhook_hash, 'hex'), Buffer.from(sha256(secret, 'hex'), 'hex'))
    if (!row || !ok) throw errors.pipelineNotFound(id)
    if (await this.ownerDisabled(row)) throw errors.userDisabled()
    if (from?.instanceId) {
      if (from.user.id !== row.user_id) throw errors.pipelineNotFound(id)
      await this.scope.checkTargets(from, stepTargets(stagesOf(row)), () => errors.pipelineNotFound(id))
    }
    return this.startRun(row, 'webhook', input, from?.instanceId)
  }

  async runs(caller: Caller, id: string, limit: number): Promise<PipelineRun[]> {
    const row = await this.owned(caller, id)
    return (await this.store.automation.pipelines.listRuns(row.id, limit)).map(runFromRow)
  }

  async run(caller: Caller, id: string, runId: string): Promise<PipelineRun> {
    const row = await this.owned(caller, id)
    const run = UUID_RE.test(runId)
      ? await this.store.automation.pipelines.getRun(runId.toLowerCase())
      : undefined
    if (!run || run.pipeline_id !== row.id) throw errors.pipelineRunNotFound(runId)
    return runFromRow(run)
  }

  /** Cancels a run that has not finished; answers the run as it ends. */
  async cancel(caller: Caller, id: string, runId: string): Promise<PipelineRun> {
    const run = await this.run(caller, id, runId)
    if (run.status === 'queued' || run.status === 'running') {
      const ended = new Promise<void>((resolve) => {
        const stop = this.runner.subscribe(run.id, (e) => {
          if (e.type === 'run' && e.run.status === 'canceled') {
            stop()
            resolve()
          }
        })
        if (!this.runner.cancel(run.id)) {
          stop()
          resolve()
        }
      })
      await ended
      // Not executing here: another replica is (or none yet); the store ends it for them.
      const row = await this.store.automation.pipelines.getRun(run.id)
      if (row && (row.status === 'queued' || row.status === 'running')) await this.runner.cancelElsewhere(row)
    }
    return this.run(caller, id, runId)
  }

  /** Follows a run: `fn` gets its events from now on; returns the unsubscribe. */
  follow(runId: string, fn: (e: RunEvent) => void): () => void {
    return this.runner.subscribe(runId, fn)
  }

  /**
   * Resumes unfinished runs nobody holds and starts the schedule clock. Every replica runs the
   * clock: `claimSchedule` moves a schedule forward with a compare-and-set (a second replica's
   * update finds `next_run_at` already changed), so each due time starts one run.
   */
  async start(): Promise<void> {
    await this.runner.start()
    this.timer = setInterval(() => {
      this.fireSchedules().catch((err: unknown) => this.log.error({ err }, 'pipeline schedule failed'))
    }, SCHEDULE_TICK_MS)
    this.timer.unref()
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    await this.runner.close()
  }

  private async fireSchedules(): Promise<void> {
    const now = new Date()
    for (const row of await this.store.automation.pipelines.scheduled()) {
      if (!row.schedule || !row.next_run_at || Date.parse(row.next_run_at) > now.getTime()) continue
      // Runs missed while the server was down are not replayed one by one: one run, then onwards.
      if (
        !(await this.store.automation.pipelines.claimSchedule(
          row.id,
          row.next_run_at,
          nextRun(row.schedule, now),
        ))
      )
        continue
      // A disabled user's schedules move on without running, as if the time had passed unseen.
      if (await this.ownerDisabled(row)) continue
      await this.startRun(row, 'schedule', { scheduled_at: row.next_run_at })
    }
  }

  /** Whether the pipeline's user is disabled: nothing of theirs starts then. */
  private async ownerDisabled(row: PipelineRow): Promise<boolean> {
    return !!(await this.store.users.byId(row.user_id))?.disabled_at
  }

  /** Stores and launches a run; one started through an instance's door keeps that instance's scope. */
  private async startRun(
    row: PipelineRow,
    trigger: PipelineRun['trigger'],
    input: Record<string, unknown>,
    scopeInstanceId?: string,
  ) {
    const stages = stagesOf(row)
    const steps: StepState[] = flatSteps(stages).map(({ step, stage }) => ({
      name: step.name,
      type: step.type,
      stage,
      status: 'pending',
      output: null,
      error: null,
      attempts: 0,
      started_at: null,
      finished_at: null,
      duration_ms: null,
    }))
    const at = nowIso()
    const run = {
      id: randomUUID(),
      pipeline_id: row.id,
      user_id: row.user_id,
      trigger,
      status: 'queued',
      input,
      steps,
      error: null,
      created_at: at,
      updated_at: at,
      started_at: null,
      finished_at: null,
      scope_instance_id: scopeInstanceId ?? null,
      // Executed here: its lease is this replica's from the start.
      ...this.runner.lease(),
    }
    await this.store.automation.pipelines.insertRun(run)
    this.log.info({ pipelineId: row.id, runId: run.id, trigger }, 'pipeline run started')
    this.runner.launch(run.id)
    return runFromRow(run)
  }

  private async owned(caller: Caller, id: string): Promise<PipelineRow> {
    const row = UUID_RE.test(id) ? await this.store.automation.pipelines.get(id.toLowerCase()) : undefined
    if (!row || row.user_id !== caller.user.id) throw errors.pipelineNotFound(id)
    await this.scope.checkTargets(caller, stepTargets(stagesOf(row)), () => errors.pipelineNotFound(id))
    return row
  }

  private webhookUrl(id: string, secret: string): string {
    return `${(this.publicUrl ?? '').replace(/\/$/, '')}/api/pipelines/${id}/webhook/${secret}`
  }

  private toPublic(row: PipelineRow): Pipeline {
    return {
      id: row.id,
      name: row.name,
      steps: stagesOf(row),
      schedule: row.schedule,
      next_run_at: row.next_run_at,
      webhook: row.webhook_hash !== null,
      created_at: row.created_at,
      updated_at: row.updated_at,
    }
  }
}

/** The next time a cron expression fires after `from`; 422 when it is not valid. */
export function nextRun(expr: string, from: Date): string | null {
  return parseSchedule(expr).nextRun(from)?.toISOString() ?? null
}
