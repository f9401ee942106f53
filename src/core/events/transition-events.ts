import type { InstanceDriver, RunawayReport, SandboxState } from '../../drivers/driver.js'
import type { InstanceTransition } from '../instances/transitions.js'
import type { EventService } from './event-service.js'
import type { LifecycleEventType } from './types.js'

/** Which event a status change is (a deletion is `deleted` from its start); others: none. */
const BY_STATUS: Partial<Record<string, LifecycleEventType>> = {
  starting: 'starting',
  rebooting: 'rebooting',
  ready: 'ready',
  stopping: 'stopping',
  stopped: 'stopped',
  error: 'error',
  deleting: 'deleted',
  sleeping: 'sleeping',
  waking: 'waking',
}

/** The event of one status change: `created`, `restarted` when the supervisor starts it again. */
export function eventOfTransition(t: InstanceTransition): LifecycleEventType | null {
  if (t.from === null) return 'created'
  // A start nobody asked for: after a crash, or a sandbox found gone after a server restart.
  if (t.to === 'starting' && t.reason !== null) return 'restarted'
  return BY_STATUS[t.to] ?? null
}

/** Records every status change of the lifecycle as an event. */
export function recordTransition(events: EventService, t: InstanceTransition): void {
  const type = eventOfTransition(t)
  if (!type) return
  void events.record(t.instanceId, type, {
    reason: t.reason,
    data: { from: t.from, to: t.to },
  })
}

/** Records a sandbox the supervisor found dead by itself: how it ended, and whether by OOM. */
export function recordCrash(events: EventService, id: string, state: SandboxState, attempt: number): void {
  void events.record(id, 'crashed', {
    reason: state.reason ?? 'its sandbox ended',
    data: {
      exit_code: state.exitCode ?? null,
      signal: state.signal ?? null,
      oom_killed: state.oomKilled ?? false,
      crashes_in_window: attempt,
    },
  })
}

/** Where a boot was when it failed: launching the sandbox, waiting for its clawlet, or its gateway. */
export type BootStep = 'sandbox' | 'clawlet' | 'gateway'

/**
 * Records a boot that did not finish in time as `start_timeout`, with what the instance's own
 * boot log says (the sandbox's output: bwrap's errors, an early crash of the clawlet).
 */
export function recordBootFailure(
  events: EventService,
  driver: InstanceDriver,
  id: string,
  err: unknown,
  step: BootStep,
): void {
  const timedOut = step === 'clawlet' || (err as { code?: unknown })?.code === 'ESANDBOXTIMEOUT'
  if (!timedOut) return
  const message = err instanceof Error ? err.message : String(err)
  void (async () => {
    let tail: string[] = []
    try {
      tail = (await driver.readLog?.(id, { source: 'boot', tail: 10 }))?.lines ?? []
    } catch {
      // No log to read is itself the answer: the reason says so.
    }
    const log = tail.length ? `its boot log ends: ${tail.join('\n')}` : 'its boot log is empty'
    await events.record(id, 'start_timeout', {
      reason: step === 'clawlet' ? `${message} ${log}` : message,
      data: { step, boot_log: tail },
    })
  })().catch(() => {})
}

/** Records that the host ended an instance's runaway workload (this host's, or a runner's report). */
export function recordRunaway(events: EventService, id: string, report: RunawayReport): Promise<unknown> {
  const limit = report.reason === 'pids_limit' ? 'its process limit' : 'its memory limit, thrashing'
  return events.record(id, 'runaway_processes_killed', {
    reason: `the workload stayed at ${limit}: ${report.processes_killed} processes ended`,
    data: { ...report },
  })
}
