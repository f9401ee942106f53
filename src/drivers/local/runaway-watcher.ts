import type { Logger } from '../../log.js'
import type { RunawayReport } from '../driver.js'
import { freezeAndKill } from './cgroup-kill.js'
import type { InstanceCgroup } from './cgroups.js'
import { sampleWorkload, type WorkloadSample } from './workload-stats.js'

/** One look per second at every running instance's workload. */
export const WATCH_INTERVAL_MS = 1000
/** Seconds in a row of refused forks at the pids limit that make a runaway. */
const PIDS_STREAK = 3
/** Seconds in a row at the memory limit, with the kernel hitting it, before thrashing is judged. */
const MEMORY_STREAK = 5
/** Over such a streak: this many OOM kills (a hog restarted over and over) ... */
const MEMORY_OOM_KILLS = 3
/** ... or pages refaulted per second (its working set no longer fits: it thrashes) ... */
const REFAULTS_PER_S = 5000
/** ... or (v2) the share of time every task of it stalled on memory. */
const MEMORY_FULL_PCT = 40
/** At the limit: usage at or above this share of it (v1 counts page cache too). */
const AT_LIMIT = 0.95
const KILL_TIMEOUT_MS = 5000

interface Watched {
  cgroup: InstanceCgroup
  last?: WorkloadSample
  pidsStreak: number
  pidsFrom?: WorkloadSample
  memoryStreak: number
  memoryFrom?: WorkloadSample
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
    this.watched.set(id, { cgroup, pidsStreak: 0, memoryStreak: 0 })
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
    const forksRefused = s.pidsHits > prev.pidsHits && s.pidsCurrent >= s.pidsMax - 2
    if (forksRefused) {
      if (w.pidsStreak++ === 0) w.pidsFrom = prev
    } else w.pidsStreak = 0
    const atLimit = s.memoryHits > prev.memoryHits && s.memoryBytes >= s.memoryLimitBytes * AT_LIMIT
    if (atLimit || s.oomKills > prev.oomKills) {
      if (w.memoryStreak++ === 0) w.memoryFrom = prev
    } else w.memoryStreak = 0
    if (w.pidsStreak >= PIDS_STREAK && w.pidsFrom) return this.end(id, w, 'pids_limit', w.pidsFrom, s)
    if (w.memoryStreak >= MEMORY_STREAK && w.memoryFrom && thrashing(w.memoryFrom, s))
      return this.end(id, w, 'memory_limit', w.memoryFrom, s)
  }

  private async end(
    id: string,
    w: Watched,
    reason: RunawayReport['reason'],
    from: WorkloadSample,
    s: WorkloadSample,
  ): Promise<void> {
    const { killed, left } = await freezeAndKill(w.cgroup, 'workload', KILL_TIMEOUT_MS)
    w.pidsStreak = 0
    w.memoryStreak = 0
    // Counters keep rising from where the kill left them: the next look starts afresh.
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
