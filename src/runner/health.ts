/** How often a runner says it lives; replicas call it unresponsive after RUNNER_STALE_MS without. */
export const RUNNER_HEARTBEAT_MS = 5_000
export const RUNNER_STALE_MS = 3 * RUNNER_HEARTBEAT_MS

/** Whether a runner's heartbeat is recent enough for it to count as alive. */
export function runnerHealthy(row: { heartbeat_at: string }, now = Date.now()): boolean {
  return now - Date.parse(row.heartbeat_at) < RUNNER_STALE_MS
}
