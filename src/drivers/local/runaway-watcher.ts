import type { Logger } from '../../log.js'
import type { RunawayReport } from '../driver.js'
import { freezeAndKill } from './cgroup-kill.js'
import type { InstanceCgroup } from './cgroups.js'
import { sampleWorkload, type WorkloadSample } from './workload-stats.js'

/** One look per second at every running instance's workload. */
export const WATCH_INTERVAL_MS = 1000
/** Seconds with forks refused at the pids limit, of the last PIDS_WINDOW, that make a runaway. */
const PIDS_SECONDS = 3
const PIDS_WINDOW = 4
/** Or: seconds in a row holding the limit itself, with forks refused at least once meanwhile. */
const PIDS_HELD_SECONDS = 5
/** Seconds at the memory limit, of the last MEMORY_WINDOW, before thrashing is judged. */
const MEMORY_SECONDS = 5
const MEMORY_WINDOW = 6
/** Over such a streak: this many OOM kills (a hog restarted over and over) ... */
const MEMORY_OOM_KILLS = 3
/** ... or pages refaulted per second (its working set no longer fits: it thrashes) ... */
const REFAULTS_PER_S = 5000
/** ... or (v2) the share of time every task of it stalled on memory. */
const MEMORY_FULL_PCT = 40
/** At the limit: usage at or above this share of it (v1 counts page cache too). */
const AT_LIMIT = 0.95
const KILL_TIMEOUT_MS = 5000

/** One second of a workload: what changed since the look before. */
interface Look {
  from: WorkloadSample
  to: WorkloadSample
  forksRefused: boolean
  atMemoryLimit: boolean
}

interface Watched {
  cgroup: InstanceCgroup
  last?: WorkloadSample
  /** The latest looks, newest last (a bomb pauses now and then: a window, not a streak). */
  looks: Look[]
}

/**
 * The host's watch over instances' workloads, run as root where the instance cannot reach:
 * a workload that keeps hitting its pids limit, or stays at its memory limit thrashing, is
 * ended as a whole (frozen, killed, thawed) while the instance's door stays up.
 */
export class RunawayWatcher {
  private readonly watched = new Map<string, Watched>()
  private timer?: NodeJS.Timeout
  private busy = false

  constructor(
    private readonly log: Logger,
    private readonly onKilled: (instanceId: string, report: RunawayReport) => void,
    private readonly intervalMs = WATCH_INTERVAL_MS,
  ) {}

  /** Starts watching an instance (a no-op when it is watched already). */
  watch(id: string, cgroup: InstanceCgroup): void {
    if (cgroup.version === 'none' || this.watched.has(id)) return
    this.watched.set(id, { cgroup, looks: [] })
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.intervalMs)
      this.timer.unref()
    }
  }

  unwatch(id: string): void {
    this.watched.delete(id)
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  private async tick(): Promise<void> {
    // A slow round (a loaded host) is not overlapped by the next one.
    if (this.busy) return
    this.busy = true
    try {
      for (const [id, w] of this.watched) await this.look(id, w)
    } catch (err) {
      this.log.error({ err }, 'runaway watch failed')
    } finally {
      this.busy = false
    }
  }

  private async look(id: string, w: Watched): Promise<void> {
    const s = await sampleWorkload(w.cgroup)
    const prev = w.last
    w.last = s ?? undefined
    if (!s || !prev) return
    w.looks.push({
      from: prev,
      to: s,
      // Forks refused in the last second: it is at its limit, whatever it holds at this instant.
      forksRefused: s.pidsHits > prev.pidsHits,
      atMemoryLimit:
        (s.memoryHits > prev.memoryHits && s.memoryBytes >= s.memoryLimitBytes * AT_LIMIT) ||
        s.oomKills > prev.oomKills,
    })
    if (w.looks.length > Math.max(PIDS_WINDOW, PIDS_HELD_SECONDS, MEMORY_WINDOW)) w.looks.shift()
    const pids = w.looks.slice(-PIDS_WINDOW)
    if (pids.filter((l) => l.forksRefused).length >= PIDS_SECONDS)
      return this.end(id, w, 'pids_limit', (pids[0] as Look).from, s)
    // A bomb of processes that back off between retries (bash sleeps) refuses forks in bursts.
    const held = w.looks.slice(-PIDS_HELD_SECONDS)
    if (
      held.length === PIDS_HELD_SECONDS &&
      held.every((l) => l.to.pidsCurrent >= l.to.pidsMax - 1) &&
      held.some((l) => l.forksRefused)
    )
      return this.end(id, w, 'pids_limit', (held[0] as Look).from, s)
    const memory = w.looks.slice(-MEMORY_WINDOW)
    const from = (memory[0] as Look).from
    if (memory.filter((l) => l.atMemoryLimit).length >= MEMORY_SECONDS && thrashing(from, s))
      return this.end(id, w, 'memory_limit', from, s)
  }

  private async end(
    id: string,
    w: Watched,
    reason: RunawayReport['reason'],
    from: WorkloadSample,
    s: WorkloadSample,
  ): Promise<void> {
    const { killed, left } = await freezeAndKill(w.cgroup, 'workload', KILL_TIMEOUT_MS)
    // Counters keep rising from where the kill left them: the next look starts afresh.
    w.looks = []
    w.last = undefined
    const report: RunawayReport = {
      reason,
      processes_killed: killed,
      pids_limit: s.pidsMax,
      pids_limit_hits: s.pidsHits - from.pidsHits,
      memory_limit_mb: Math.round(s.memoryLimitBytes / 1024 / 1024),
      oom_kills: s.oomKills - from.oomKills,
      detected_after_ms: s.at - from.at,
    }
    if (left.length)
      this.log.error({ instanceId: id, left: left.length }, 'runaway workload not fully killed')
    this.onKilled(id, report)
  }
}

/** Whether a streak at the memory limit is thrashing rather than a full page cache. */
function thrashing(from: WorkloadSample, s: WorkloadSample): boolean {
  const seconds = Math.max(1, (s.at - from.at) / 1000)
  return (
    s.oomKills - from.oomKills >= MEMORY_OOM_KILLS ||
    (s.refaults - from.refaults) / seconds >= REFAULTS_PER_S ||
    (s.memoryFullPct ?? 0) >= MEMORY_FULL_PCT
  )
}
