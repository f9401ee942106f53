import type { Config } from '../../config.js'
import type { InstanceDriver, SandboxState } from '../../drivers/driver.js'
import { AppError } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { InstanceRow, Store } from '../../store/index.js'
import type { InstanceGateway } from '../instance-gateway.js'
import type { InstanceStatus } from '../instance-types.js'
import type { Leadership } from '../shared/locks.js'
import type { InstanceLifecycle } from './lifecycle.js'
import { ASKED_STATUSES } from './transitions.js'

const MONITOR_INTERVAL_MS = 2_000
/**
 * A crashed sandbox is restarted unless it crashed this many times within the restart window
 * (`CLAWPORT_RESTART_WINDOW_MS`): then it is left in `error`. Crashes weeks apart never add up.
 */
const MAX_AUTO_RESTARTS = 3
/** A door found dead is looked at again this much later before it is taken over (see `keepDoor`). */
const DOOR_RECHECK_MS = 1_000
/** Statuses no lifecycle work is under way in. */
const SETTLED = new Set<string>(['ready', 'sleeping', 'stopped', 'error'])

/**
 * Keeps instances as they should be: takes running sandboxes back after a control-plane start,
 * and restarts a sandbox that died by itself, within a restart budget. Of the replicas sharing a
 * host, only the one leading it (`leadership`) supervises: the others serve API calls for its
 * instances and leave recovery, restarts and monitoring to it; a replica that takes over from a
 * leader that died recovers first, as after a restart. An instance's door is listened on by the
 * replica that booted or adopted it; the leader re-opens one whose replica died.
 */
export class InstanceSupervisor {
  /** Recent crash times per instance; a start, stop, reboot or delete asked for clears them. */
  private readonly crashes = new Map<string, number[]>()
  /** Instances being checked for a dead sandbox, so that two checks never restart one twice. */
  private readonly checking = new Set<string>()
  private stopLeading?: () => void
  /** Whether `recover` ran while this process led: the first term of the monitor skips it. */
  private recovered = false
  private readonly crashListeners = new Set<(id: string, state: SandboxState, attempt: number) => void>()

  constructor(
    private readonly store: Store,
    private readonly driver: InstanceDriver,
    private readonly lifecycle: InstanceLifecycle,
    private readonly config: Pick<Config, 'instances' | 'gateway'>,
    private readonly log: Logger,
    /** The host's leadership; absent: this process is alone (tools, tests). */
    private readonly leadership?: Leadership,
    /** Opens instances' doors; absent: doors are not looked after. */
    private readonly doors?: Pick<InstanceGateway, 'attach'>,
  ) {
    lifecycle.clients.onUnreachable((id) => this.suspect(id))
    lifecycle.onTransition((t) => {
      if (t.reason === null && ASKED_STATUSES.has(t.to)) this.crashes.delete(t.instanceId)
    })
  }

  /**
   * Re-adopts instances after a control-plane start: running sandboxes are taken back as they
   * are, interrupted work is finished, and instances that should run but do not are started.
   */
  async recover(opts: { takeover?: boolean } = {}): Promise<void> {
    if (!this.leads()) return
    this.recovered = true
    // Taking over from a leader that died, other replicas are still at work: an instance one of
    // them changed lately may be theirs to finish (a boot, a stop), so only older ones count.
    const busySince = Date.now() - (this.config.instances.readyTimeoutMs + this.config.gateway.readyTimeoutMs)
    for (const row of await this.store.instances.listAll()) {
      const status = row.status as InstanceStatus
      if (opts.takeover && !SETTLED.has(status) && Date.parse(row.updated_at) > busySince) continue
      if (status === 'deleting' || status === 'stopping') this.lifecycle.finishInterrupted(row)
      else if (row.desired_state === 'running' && status !== 'error') {
        if (await this.lifecycle.healthy(row.id)) await this.lifecycle.adopt(row)
        else {
          await this.lifecycle.restart(row, 'its sandbox was not running after a control-plane restart', {
            provision: true,
          })
        }
      }
    }
  }

  /** Calls `fn` with how a sandbox ended each time one is found dead by itself, before its restart. */
  onCrash(fn: (id: string, state: SandboxState, attempt: number) => void): void {
    this.crashListeners.add(fn)
  }

  /** Watches ready instances and restarts a sandbox that died by itself, while leading. */
  startMonitor(): void {
    const term = () => {
      const monitor = setInterval(() => void this.checkAll(), MONITOR_INTERVAL_MS)
      monitor.unref()
      return () => clearInterval(monitor)
    }
    if (!this.leadership) {
      this.stopLeading = term()
      return
    }
    let skipRecover = this.recovered && this.leadership.isLeader()
    this.stopLeading = this.leadership.onLead(() => {
      if (!skipRecover) {
        void this.recover({ takeover: true }).catch((err: unknown) =>
          this.log.error({ err }, 'instance recovery failed'),
        )
      }
      skipRecover = false
      return term()
    })
  }

  private leads(): boolean {
    return this.leadership?.isLeader() ?? true
  }

  private async checkAll(): Promise<void> {
    try {
      for (const row of await this.store.instances.listAll()) await this.checkOne(row)
    } catch (err) {
      this.log.error({ err }, 'instance monitor failed')
    }
  }

  /** A call found the clawlet unreachable: look at that instance now rather than at the next round. */
  private suspect(id: string): void {
    if (!this.leads()) return
    void (async () => {
      const row = await this.lifecycle.row(id)
      if (row) await this.checkOne(row)
    })().catch((err: unknown) => {
      // A runner out of reach is expected (its instances keep running); anything else is a bug.
      if (err instanceof AppError) this.log.warn({ err, instanceId: id }, 'instance check failed')
      else this.log.error({ err, instanceId: id }, 'instance check failed')
    })
  }

  private async checkOne(row: InstanceRow): Promise<void> {
    // A sleeping instance is healthy without its gateway, but its sandbox must still run.
    if ((row.status !== 'ready' && row.status !== 'sleeping') || this.checking.has(row.id)) return
    if (!this.leads()) return
    this.checking.add(row.id)
    try {
      const state = await this.driver.inspect(row.id)
      if (state.running) {
        await this.keepDoor(row)
        return
      }
      // Re-read: a stop or reboot asked for meanwhile is not a crash.
      const current = await this.lifecycle.row(row.id)
      if (current?.status !== row.status) return
      const n = this.crashed(row.id)
      const reason = `sandbox exited unexpectedly${state.reason ? ` (${state.reason})` : ''}`
      this.log.warn({ instanceId: row.id, reason, attempt: n }, 'instance sandbox died')
      for (const fn of this.crashListeners) fn(row.id, state, n)
      this.lifecycle.lost(row.id, 'stopped unexpectedly')
      if (n > MAX_AUTO_RESTARTS) {
        const windowS = Math.round(this.config.instances.restartWindowMs / 1000)
        await this.lifecycle.giveUp(
          row.id,
          `${reason}; gave up after ${MAX_AUTO_RESTARTS} restarts within ${windowS} s; start it again when the cause is fixed`,
        )
        return
      }
      await this.lifecycle.restart(row, reason, { provision: false, error: reason })
    } finally {
      this.checking.delete(row.id)
    }
  }

  /**
   * Re-opens the door of a running instance that nobody answers (the replica that listened on
   * it died). A live door, whichever replica holds it, is left alone.
   */
  private async keepDoor(row: InstanceRow): Promise<void> {
    if (!this.doors || (await this.driver.doorAlive(row.id))) return
    // A door being re-opened (a hand-over) is dead for a moment: only one dead twice is taken.
    await new Promise((r) => setTimeout(r, DOOR_RECHECK_MS))
    const current = await this.lifecycle.row(row.id)
    if ((current?.status !== 'ready' && current?.status !== 'sleeping') || !this.leads()) return
    if (await this.driver.doorAlive(row.id)) return
    try {
      await this.doors.attach(current)
      this.log.info({ instanceId: row.id }, 'instance door taken over')
    } catch (err) {
      this.log.warn({ instanceId: row.id, err }, 'instance door not re-opened')
    }
  }

  /** Counts a crash now; returns the crashes within the restart window, this one included. */
  private crashed(id: string): number {
    const now = Date.now()
    const recent = (this.crashes.get(id) ?? []).filter((t) => now - t < this.config.instances.restartWindowMs)
    recent.push(now)
    this.crashes.set(id, recent)
    return recent.length
  }

  close(): void {
    this.stopLeading?.()
  }
}
