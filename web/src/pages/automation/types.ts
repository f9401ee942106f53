/** The shapes of the swarm and pipeline API, as the dashboard reads them. */

export interface SwarmMember {
  instance_id: string
  name: string | null
  status: string
  position: number
  role: string | null
  instructions: string | null
}

export interface Swarm {
  id: string
  name: string
  size: number
  members: SwarmMember[]
  created_at: string
  updated_at: string
}

export interface BroadcastResult {
  instance_id: string
  message_id: string
  status: string
  reply: string | null
  error: string | null
}

export interface BroadcastOutcome {
  broadcast_id: string
  results: BroadcastResult[]
  replied: number
  failed: number
  pending: number
}

export interface StepTarget {
  instance_id?: string
  swarm_id?: string
  member?: number | string
}

export type PipelineStep = StepTarget & {
  name: string
  type: 'chat' | 'exec' | 'copy'
  retries?: number
  message?: string
  command?: string
  from?: StepTarget & { path: string }
  to?: StepTarget & { path: string }
}

export type PipelineStage = PipelineStep | { parallel: PipelineStep[] }

export interface Pipeline {
  id: string
  name: string
  steps: PipelineStage[]
  schedule: string | null
  next_run_at: string | null
  webhook: boolean
  created_at: string
  updated_at: string
}

export interface StepState {
  name: string
  type: string
  stage: number
  status: string
  output: string | null
  error: string | null
  attempts: number
  started_at: string | null
  finished_at: string | null
  duration_ms: number | null
}

export interface PipelineRun {
  id: string
  pipeline_id: string
  trigger: 'manual' | 'schedule' | 'webhook'
  status: string
  input: Record<string, unknown>
  steps: StepState[]
  error: string | null
  created_at: string
  started_at: string | null
  finished_at: string | null
}

export function isFinished(status: string): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'canceled'
}

/** Every step of a pipeline with the index of its stage. */
export function flatSteps(stages: PipelineStage[]): Array<{ step: PipelineStep; stage: number }> {
  return stages.flatMap((s, i) => ('parallel' in s ? s.parallel : [s]).map((step) => ({ step, stage: i })))
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms == null) return '—'
  if (ms < 1000) return `${ms} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
}
