import { z } from 'zod'
import type { PipelineRow, PipelineRunRow } from '../../store/automation-store.js'

const StepName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/)
  .describe('Unique in the pipeline; later steps use its output as {{steps.<name>.output}}')

/** Where a step runs: an instance, or a member of a swarm (by position from 1, or by role). */
export const StepTarget = z.object({
  instance_id: z.string().optional(),
  swarm_id: z.string().optional(),
  member: z.union([z.number().int().min(1), z.string().min(1)]).optional(),
})
export type StepTarget = z.infer<typeof StepTarget>

const StepBase = StepTarget.extend({
  name: StepName,
  retries: z.number().int().min(0).max(10).default(0).describe('Extra attempts after a failure'),
  backoff_ms: z
    .number()
    .int()
    .min(0)
    .max(600_000)
    .default(1_000)
    .describe('Wait before the first retry; doubles each time'),
})

const ChatStep = StepBase.extend({
  type: z.literal('chat'),
  message: z.string().min(1).max(200_000),
}).describe("A chat turn; its output is the agent's answer")

const ExecStep = StepBase.extend({
  type: z.literal('exec'),
  command: z.string().min(1).max(100_000),
  cwd: z.string().optional(),
  timeout_ms: z.number().int().min(1).max(3_600_000).optional(),
}).describe('A shell command; its output is stdout (a non-zero exit fails the step)')

const FileEnd = StepTarget.extend({ path: z.string().min(1) })

const CopyStep = StepBase.extend({
  type: z.literal('copy'),
  from: FileEnd,
  to: FileEnd,
}).describe('Copies a file from one instance to another; its output is the destination path')

export const PipelineStep = z.discriminatedUnion('type', [ChatStep, ExecStep, CopyStep])
export type PipelineStep = z.infer<typeof PipelineStep>

/** One stage: a step, or steps that run at the same time. Stages run in order. */
export const PipelineStage = z.union([
  PipelineStep,
  z.object({ parallel: z.array(PipelineStep).min(1).max(20) }),
])
export type PipelineStage = z.infer<typeof PipelineStage>

export const PipelineCreateBody = z.object({
  name: z.string().trim().min(1).max(100),
  steps: z.array(PipelineStage).min(1).max(100),
  schedule: z
    .string()
    .min(1)
    .max(100)
    .nullish()
    .describe('Cron expression (5 fields, or 6 with seconds first), in UTC'),
  webhook: z.boolean().optional().describe('Make a webhook URL with its own secret (shown once)'),
})
export type PipelineCreateBody = z.infer<typeof PipelineCreateBody>

export const Pipeline = z
  .object({
    id: z.string(),
    name: z.string(),
    steps: z.array(PipelineStage),
    schedule: z.string().nullable(),
    next_run_at: z.string().nullable(),
    webhook: z.boolean(),
    webhook_url: z
      .string()
      .optional()
      .describe('POST here (no key) to start a run with the JSON body as {{input.*}}; only shown when made'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Pipeline' })
export type Pipeline = z.infer<typeof Pipeline>

export const StepStatus = z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped', 'canceled'])
export type StepStatus = z.infer<typeof StepStatus>

export const StepState = z.object({
  name: z.string(),
  type: z.string(),
  stage: z.number().int(),
  status: StepStatus,
  output: z.string().nullable(),
  error: z.string().nullable(),
  attempts: z.number().int(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  duration_ms: z.number().int().nullable(),
})
export type StepState = z.infer<typeof StepState>

export const RunStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'canceled'])
export type RunStatus = z.infer<typeof RunStatus>

export const PipelineRun = z
  .object({
    id: z.string(),
    pipeline_id: z.string(),
    trigger: z.enum(['manual', 'schedule', 'webhook']),
    status: RunStatus,
    input: z.record(z.string(), z.unknown()),
    steps: z.array(StepState),
    error: z.string().nullable(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .meta({ id: 'PipelineRun' })
export type PipelineRun = z.infer<typeof PipelineRun>

export function runFromRow(r: PipelineRunRow): PipelineRun {
  return {
    id: r.id,
    pipeline_id: r.pipeline_id,
    trigger: r.trigger as PipelineRun['trigger'],
    status: r.status as RunStatus,
    // Copies: a run's steps are changed in place as they move, never the stored row's.
    input: structuredClone(r.input),
    steps: structuredClone(r.steps) as StepState[],
    error: r.error,
    created_at: r.created_at,
    started_at: r.started_at,
    finished_at: r.finished_at,
  }
}

/** A stored pipeline's stages (the store checked their shape; the pipeline service wrote them). */
export function stagesOf(row: PipelineRow): PipelineStage[] {
  return row.spec.steps as PipelineStage[]
}

/** Every step of a pipeline with the index of its stage. */
export function flatSteps(stages: PipelineStage[]): Array<{ step: PipelineStep; stage: number }> {
  return stages.flatMap((s, i) => ('parallel' in s ? s.parallel : [s]).map((step) => ({ step, stage: i })))
}

/** Every instance end a pipeline's steps name (a copy names two). */
export function stepTargets(stages: PipelineStage[]): StepTarget[] {
  return flatSteps(stages).flatMap<StepTarget>(({ step }) =>
    step.type === 'copy' ? [step.from, step.to] : [step],
  )
}

export function isFinished(status: RunStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'canceled'
}

/**
 * Fills `{{steps.<name>.output}}`, `{{input.<key>}}`, `{{input}}` and `{{run.id}}`; unknown
 * names become empty strings.
 */
export function render(
  template: string,
  ctx: { steps: StepState[]; input: Record<string, unknown>; runId: string },
): string {
  return template.replace(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g, (_m, ref: string) => {
    const parts = ref.split('.')
    if (parts[0] === 'steps' && parts[2] === 'output')
      return ctx.steps.find((s) => s.name === parts[1])?.output ?? ''
    if (parts[0] === 'input') {
      if (parts.length === 1) return JSON.stringify(ctx.input)
      const v = ctx.input[parts.slice(1).join('.')]
      return v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v)
    }
    if (ref === 'run.id') return ctx.runId
    return ''
  })
}
