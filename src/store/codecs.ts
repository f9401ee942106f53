import { z } from 'zod'
import type { InstanceResources } from '../drivers/driver.js'

/** An instance's resource limits as stored in its `resources` column. */
export const StoredResources = z.object({
  memory_mb: z.number(),
  cpus: z.number(),
  pids_max: z.number(),
  disk_mb: z.number(),
}) satisfies z.ZodType<InstanceResources>

/** Checked host names as stored in an `allowed_hosts` column. */
export const StoredHosts = z.array(z.string())

/**
 * Parses a JSON text column into its domain value; a malformed value fails here, naming the
 * column and its row, rather than deep in core.
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
  return r.data
}

/** The `resources` column's text, keys always in one order (a warm claim matches it as text). */
export function encodeResources(r: InstanceResources): string {
  return JSON.stringify({ memory_mb: r.memory_mb, cpus: r.cpus, pids_max: r.pids_max, disk_mb: r.disk_mb })
}
