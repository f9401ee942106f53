import { z } from 'zod'
import type { InstanceResources } from '../drivers/driver.js'

/** An instance's resource limits as stored in its `resources` column. */
export const StoredResources = z.object({
  memory_mb: z.number(),
  cpus: z.number(),
  pids_max: z.number(),
  disk_mb: z.number(),
}) satisfies z.ZodType<InstanceResources>

/** A list of names: checked host names (`allowed_hosts`), a webhook's event types. */
export const StringList = z.array(z.string())

/** Names to values: a runner's labels. */
export const StringRecord = z.record(z.string(), z.string())

/** A JSON object column: event data. */
export const JsonObject = z.record(z.string(), z.unknown())

/** The tool call a chat `tool` message carries. */
export const ChatToolJson = z.object({
  name: z.string(),
  arguments: z.unknown(),
  result: z.unknown().optional(),
  call_id: z.string().optional(),
})
export type StoredChatTool = z.infer<typeof ChatToolJson>

/** A pipeline step as stored: its `type` and `name` checked, the rest as the pipeline service wrote it. */
const StoredStep = z.looseObject({ type: z.string(), name: z.string() })

/** A pipeline's `spec`: its stages, each a step or steps run at the same time. */
export const PipelineSpecJson = z.object({
  steps: z.array(z.union([StoredStep, z.looseObject({ parallel: z.array(StoredStep) })])),
})
export type StoredPipelineSpec = z.infer<typeof PipelineSpecJson>

/** A run's `steps`: the state of every step. */
export const StepStatesJson = z.array(
  z.looseObject({ name: z.string(), type: z.string(), stage: z.number(), status: z.string() }),
)
export type StoredStepStates = z.infer<typeof StepStatesJson>

/**
 * Parses a JSON text column into its domain value; a malformed value fails here, naming the
 * column and its row, rather than deep in core. The value is checked, then handed on as parsed
 * (keys in their stored order, none dropped): what the API answers stays byte for byte the same.
 */
export function decodeJson<T>(schema: z.ZodType<T>, text: string, column: string, key: string): T {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new Error(`store: ${column} of ${key} is not JSON`)
  }
  const r = schema.safeParse(value)
  if (!r.success) {
    const issue = r.error.issues[0]
    throw new Error(
      `store: ${column} of ${key} is malformed: ${issue?.path.join('.') || '(root)'} ${issue?.message}`,
    )
  }
  return value as T
}

/** `decodeJson` for a nullable column (empty, as null, holds nothing). */
export function decodeNullableJson<T>(
  schema: z.ZodType<T>,
  text: string | null,
  column: string,
  key: string,
): T | null {
  return text ? decodeJson(schema, text, column, key) : null
}

/** The `resources` column's text, keys always in one order (a warm claim matches it as text). */
export function encodeResources(r: InstanceResources): string {
  return JSON.stringify({ memory_mb: r.memory_mb, cpus: r.cpus, pids_max: r.pids_max, disk_mb: r.disk_mb })
}
