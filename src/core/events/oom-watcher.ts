import type { Logger } from '../../log.js'
import type { Store } from '../../store/index.js'
import type { EventService } from './event-service.js'

const POLL_MS = 2_000
/** Statuses in which an instance's processes may run and be killed. */
const WATCHED = new Set(['provisioning', 'starting', 'rebooting', 'ready'])

/** Reads how many processes the kernel OOM-killed in an instance's memory cgroup so far (null: not running). */
export interface OomCounter {
  oomKills(id: string): Promise<number | null>
}

/**
 * Reports each OOM kill of an instance as an `oom_killed` event, whether the instance survived
 * it (a command it ran was killed) or not (its clawlet was: the crash follows as its own event).
 * The kernel's counter only grows while the cgroup lives; the first look at an instance that
 * existed before this process started is its baseline, so kills are never reported twice.
 */
export class OomWatcher {
  private readonly seen = new Map<string, number>()
  private timer?: NodeJS.Timeout
  private readonly startedAt = new Date().toISOString()
  private busy = false

  constructor(
    private readonly store: Store,
    private readonly counter: OomCounter,
    private readonly events: EventService,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), POLL_MS)
    this.timer.unref()
  }

  /** Looks at every running instance's counter once. */
  async check(): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      const rows = await this.store.instances.listAll()
      const live = new Set(rows.map((r) => r.id))
      for (const id of this.seen.keys()) if (!live.has(id)) this.seen.delete(id)
      for (const row of rows) {
        if (!WATCHED.has(row.status)) continue
        const total = await this.counter.oomKills(row.id)
        if (total === null) continue
        const before = this.seen.get(row.id) ?? (row.created_at >= this.startedAt ? 0 : total)
        this.seen.set(row.id, total)
        if (total <= before) continue
        const { memory_mb } = row.resources
        const kills = total - before
        void this.events.record(row.id, 'oom_killed', {
          reason: `out of memory: the kernel killed ${kills === 1 ? 'a process' : `${kills} processes`} of the instance at its ${memory_mb} MiB limit`,
          data: { kills, total, memory_limit_mb: memory_mb },
        })
      }
    } catch (err) {
      this.log.error({ err }, 'oom check failed')
    } finally {
      this.busy = false
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer)
  }
}
