import { Cron } from 'croner'
import { errors } from '../../errors.js'

/** Runs looked at to find the shortest gap of a schedule (bursts of seconds show within these). */
const RUNS_CHECKED = 12

/** A cron expression, read in UTC and never run by itself; 422 when it is not valid. */
export function parseSchedule(expr: string): Cron {
  try {
    return new Cron(expr, { paused: true, timezone: 'UTC' })
  } catch (err) {
    throw errors.validation(
      `The schedule "${expr}" is not a valid cron expression: ${(err as Error).message}`,
    )
  }
}

/**
 * Refuses a cron expression that is not valid, or that fires more often than once every
 * `minIntervalMs` (every second, or a burst of seconds within a minute): each run costs an
 * instance's work, so a schedule may not turn into a loop. 422 with the reason.
 */
export function checkSchedule(expr: string, minIntervalMs: number, from = new Date()): void {
  const runs = parseSchedule(expr).nextRuns(RUNS_CHECKED, from)
  for (let i = 1; i < runs.length; i++) {
    const gapMs = (runs[i] as Date).getTime() - (runs[i - 1] as Date).getTime()
    if (gapMs < minIntervalMs) {
      throw errors.validation(
        `The schedule "${expr}" fires ${gapMs / 1000} s apart; a schedule may fire at most once every ${minIntervalMs / 1000} s.`,
        { field: 'schedule', min_interval_s: minIntervalMs / 1000 },
      )
    }
  }
}
