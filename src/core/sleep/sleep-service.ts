import { type Config, DEFAULT_IDLE_SLEEP_MINUTES } from '../../config.js'
import { cleanText } from '../../door/clawlet/answers.js'
import type { ClawletClient } from '../../door/clawlet/client.js'
import { AppError, errors } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { InstanceRow, Store } from '../../store/index.js'
import type { GatewayState } from '../../wire/gateway.js'
import type { InstanceGateway } from '../instance-gateway.js'
import type { Instance, InstanceStatus } from '../instance-types.js'
import type { Actor } from '../scope.js'
import { type EventBus, MemoryBus } from '../shared/bus.js'
import type { Leadership } from '../shared/locks.js'
import type { RelayRegistry } from '../socket-relay.js'
import { POOL_USER_ID } from '../warm-pool.js'
import { IdleTracker } from './idle-tracker.js'

/** What a request needs of a sleeping instance: its agent, its desktop, or only to wake it. */
export type WakeNeed = 'agent' | 'desktop' | 'none'

/** What the 409 of a wake that takes longer than CLAWPORT_WAKE_WAIT_MS tells the client to wait. */
const RETRY_AFTER_S = 5
const POLL_MS = 250
const SWEEP_MIN_MS = 1_000
const SWEEP_MAX_MS = 30_000
/** A wake another replica runs is re-read this often even without a status wake-up. */
const OTHERS_WAKE_POLL_MS = 5_000
/**
 * With replicas (PostgreSQL), each writes the use it saw this often; idle periods are minutes,
 * so the sweeping leader seeing another replica's use this much late does not matter.
 */
const USE_FLUSH_MS = 5_000

/** How sleep finds an actor's instance (404 when it is not theirs) and shows it. */
export interface SleepLookup {
  owned(actor: Actor, id: string): Promise<InstanceRow>
  toPublic(row: InstanceRow): Instance
}

/** The parts of the instance lifecycle that sleep and wake go through. */
export interface SleepLifecycle {
  /** Runs work under the instance's lifecycle lock: sleep and wake never overlap a reboot, stop or delete. */
  exclusive<T>(id: string, fn: () => Promise<T>): Promise<T>
  /** Writes a status change, recorded as a lifecycle event. */
  setStatus(
    id: string,
    status: InstanceStatus,
    extra?: Partial<InstanceRow>,
    reason?: string | null,
  ): Promise<InstanceRow | undefined>
  clawlet(id: string): ClawletClient
}

interface Wake {
  /** Resolves once the status says `waking` (or the wake found nothing to do). */
  started: Promise<void>
  /** Resolves once the desktop answers again (or failed to), before the gateway is up. */
  desktop: Promise<void>
  /** Resolves once the instance is `ready` again; rejects when it could not wake. */
  done: Promise<void>
}

const asleep = (status: string) => status === 'sleeping' || status === 'waking'

/**
 * Idle instances sleep: after their plan's `idle_sleep_minutes` without an API call, chat turn,
 * inbox message, pipeline step or open terminal/desktop socket, their gateway and desktop stop
 * (the clawlet stays: exec and files keep working) and they show `sleeping`. Work that needs the
 * agent or the desktop wakes them. Sleep and wake go through the clawlet's routes, so another
 * way to sleep (a snapshot of the booted gateway) would only change those two steps.
 */
export class SleepService {
  readonly tracker = new IdleTracker()
  private readonly wakes = new Map<string, Wake>()
  private readonly sleepListeners = new Set<(id: string, reason: string) => void>()
  private timer?: NodeJS.Timeout
  private flushTimer?: NodeJS.Timeout
  private sweeping = false
  private closed = false

  constructor(
    private readonly store: Store,
    private readonly instances: SleepLookup,
    private readonly lifecycle: SleepLifecycle,
    private readonly gateway: InstanceGateway | undefined,
    private readonly relays: RelayRegistry,
    private readonly config: Pick<Config, 'plans' | 'gateway'>,
    private readonly log: Logger,
    private readonly bus: EventBus = new MemoryBus(),
  ) {}

  /** How long an instance may sit unused before it sleeps; 0: never (pooled instances never do). */
  idleLimitMs(row: InstanceRow): number {
    if (row.user_id === POOL_USER_ID) return 0
    const plan = this.config.plans.find((p) => p.name === row.plan)
    return (plan?.idle_sleep_minutes ?? DEFAULT_IDLE_SLEEP_MINUTES) * 60_000
  }

  /** Calls `fn` when an instance goes to sleep (its running turns end). */
  onSleep(fn: (id: string, reason: string) => void): void {
    this.sleepListeners.add(fn)
  }

  /**
   * Looks for idle instances, a few times per the shortest idle period of any plan; with a
   * leadership (replicas sharing a host), only while this process leads the host.
   */
  start(leadership?: Leadership): void {
    const limits = this.config.plans
      .map((p) => (p.idle_sleep_minutes ?? DEFAULT_IDLE_SLEEP_MINUTES) * 60_000)
      .filter((ms) => ms > 0)
    if (limits.length === 0) return
    // Every replica passes its use on: whichever leads sweeps with all of it.
    if (this.store.dialect === 'postgres') {
      this.flushTimer = setInterval(() => void this.flushUse(), USE_FLUSH_MS)
      this.flushTimer.unref()
    }
    const every = Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.min(...limits) / 4))
    const term = () => {
      const timer = setInterval(() => void this.sweep(), every)
      timer.unref()
      this.timer = timer
      return () => clearInterval(timer)
    }
    if (leadership) leadership.onLead(term)
    else term()
  }

  close(): void {
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    if (this.flushTimer) clearInterval(this.flushTimer)
  }

  /**
   * Writes, as used now, the instances this replica saw used since the last flush, those it
   * holds (running turns and steps) and those it has terminal or desktop sockets open to.
   */
  async flushUse(): Promise<void> {
    const ids = new Set(this.tracker.takeUsed())
    for (const id of this.tracker.known()) if (this.relays.count(id) > 0) ids.add(id)
    if (ids.size === 0) return
    try {
      await this.store.instances.markUsed([...ids], Date.now())
    } catch (err) {
      this.tracker.untake(ids)
      this.log.warn({ err }, 'instance use not recorded')
    }
  }

  /** Puts every ready instance that has been idle long enough to sleep. */
  async sweep(): Promise<void> {
    if (this.sweeping || this.closed) return
    this.sweeping = true
    try {
      const rows = await this.store.instances.listAll()
      this.tracker.retain(new Set(rows.map((r) => r.id)))
      for (const row of rows) {
        if (this.closed) return
        if (row.status !== 'ready' || !this.idleEnough(row)) continue
        // A chat channel answers people who never touch the API: its bot must stay up.
        if ((await this.store.channels.list(row.id)).length > 0) continue
        await this.putToSleep(row.id, true)
      }
    } catch (err) {
      this.log.error({ err }, 'idle sweep failed')
    } finally {
      this.sweeping = false
    }
  }

  private idleEnough(row: InstanceRow): boolean {
    const limit = this.idleLimitMs(row)
    if (limit <= 0 || this.relays.count(row.id) > 0) return false
    // Other replicas' use, as they last wrote it (up to a flush late: see USE_FLUSH_MS).
    const elsewhereMs = row.last_used_at == null ? Number.POSITIVE_INFINITY : Date.now() - row.last_used_at
    return Math.min(this.tracker.idleMs(row.id), elsewhereMs) >= limit
  }

  /** POST /instances/{id}/sleep: a ready instance sleeps now, whatever it was doing. */
  async sleep(actor: Actor, id: string): Promise<Instance> {
    const row = await this.instances.owned(actor, id)
    if (row.status === 'sleeping') return this.instances.toPublic(row)
    if (row.status !== 'ready')
      throw errors.invalidState(`Instance ${row.id} is ${row.status}; only a ready instance can sleep.`)
    const after = await this.putToSleep(row.id, false)
    return this.instances.toPublic(after ?? row)
  }

  /** POST /instances/{id}/wake: starts waking a sleeping instance; answers while it wakes. */
  async wake(actor: Actor, id: string): Promise<Instance> {
    const row = await this.instances.owned(actor, id)
    if (row.status === 'ready') return this.instances.toPublic(row)
    if (!asleep(row.status))
      throw errors.invalidState(`Instance ${row.id} is ${row.status}; only a sleeping instance can wake.`)
    this.tracker.touch(row.id)
    await this.begin(row.id).started
    return this.instances.toPublic((await this.store.instances.get(row.id)) ?? row)
  }

  /**
   * For work that needs the instance awake: a sleeping one is woken, and the call waits until
   * what it needs is back (the desktop in a moment, the agent in a gateway boot), at most
   * CLAWPORT_WAKE_WAIT_MS, then 409 `instance_waking` with Retry-After. `none` only starts the wake.
   * Answers the instance's row as it is then; any other status is left to the caller.
   */
  async awake(row: InstanceRow, need: WakeNeed): Promise<InstanceRow> {
    this.tracker.touch(row.id)
    if (!asleep(row.status)) return row
    const w = this.begin(row.id)
    if (need === 'none') return row
    let timer: NodeJS.Timeout | undefined
    const waited = await Promise.race([
      (need === 'desktop' ? w.desktop : w.done).then(
        () => undefined,
        (err: unknown) => err,
      ),
      new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), this.config.gateway.wakeWaitMs)
      }),
    ]).finally(() => clearTimeout(timer))
    if (waited === 'timeout') throw errors.instanceWaking(row.id, RETRY_AFTER_S)
    if (waited !== undefined) throw errors.instanceUnavailable(row.id, `it did not wake: ${reason(waited)}`)
    return (await this.store.instances.get(row.id)) ?? row
  }

  private putToSleep(id: string, idle: boolean): Promise<InstanceRow | undefined> {
    return this.lifecycle.exclusive(id, async () => {
      const row = await this.store.instances.get(id)
      // Re-checked under the lock: a request may have come in since the sweep looked.
      if (row?.status !== 'ready' || (idle && !this.idleEnough(row))) return row
      const why = idle ? `idle for ${Math.round(this.idleLimitMs(row) / 1000)} s` : null
      const next = await this.lifecycle.setStatus(id, 'sleeping', {}, why)
      for (const fn of this.sleepListeners) fn(id, `instance ${id} went to sleep`)
      const client = this.lifecycle.clawlet(id)
      const steps = await Promise.allSettled([
        this.gateway?.enabled ? this.gateway.client(id).sleep() : undefined,
        client.desktopSleep(),
      ])
      for (const s of steps)
        if (s.status === 'rejected') this.log.warn({ instanceId: id, err: s.reason }, 'sleep step failed')
      this.log.info({ instanceId: id, reason: why ?? 'asked for' }, 'instance asleep')
      return next
    })
  }

  /** The instance's wake in progress, or a new one: one at a time per instance. */
  private begin(id: string): Wake {
    const known = this.wakes.get(id)
    if (known) return known
    let markStarted = () => {}
    let markDesktop = () => {}
    const started = new Promise<void>((r) => {
      markStarted = r
    })
    const desktop = new Promise<void>((r) => {
      markDesktop = r
    })
    const done = this.lifecycle
      .exclusive(id, async () => {
        let elsewhere = false
        try {
          let row = await this.store.instances.get(id)
          if (row?.status === 'waking' && this.store.dialect === 'postgres') {
            markStarted()
            elsewhere = true
            row = await this.othersWake(id)
            elsewhere = false
          }
          if (!row || !asleep(row.status)) return
          const t0 = performance.now()
          await this.lifecycle.setStatus(id, 'waking', { error: null })
          markStarted()
          await this.lifecycle
            .clawlet(id)
            .desktopWake()
            .catch((err: unknown) => this.log.warn({ instanceId: id, err }, 'desktop did not wake'))
          markDesktop()
          await this.wakeGateway(row)
          await this.lifecycle.setStatus(id, 'ready', { error: null })
          this.tracker.touch(id)
          this.log.info({ instanceId: id, ms: Math.round(performance.now() - t0) }, 'instance awake')
        } catch (err) {
          const why = reason(err)
          this.log.warn({ instanceId: id, err }, 'instance did not wake')
          // Still asleep: the next request that needs it tries again (another replica's failed
          // wake has said so already).
          if (!elsewhere)
            await this.lifecycle
              .setStatus(id, 'sleeping', { error: `it did not wake: ${why}` }, why)
              .catch(() => {})
          throw err
        } finally {
          markStarted()
          markDesktop()
        }
      })
      .finally(() => this.wakes.delete(id))
    // Callers that only start a wake do not wait for it; its failure is logged above.
    done.catch(() => {})
    const wake = { started, desktop, done }
    this.wakes.set(id, wake)
    return wake
  }

  /**
   * Waits while another replica wakes the instance: until its status moves (heard on the bus),
   * its failure is thrown as ours. One still `waking` past a gateway boot's time was left by a
   * replica that died: it is answered as it is, and woken here.
   */
  private async othersWake(id: string): Promise<InstanceRow | undefined> {
    const deadline = performance.now() + this.config.gateway.readyTimeoutMs + this.config.gateway.wakeWaitMs
    let changed = () => {}
    const unsubscribe = this.bus.subscribe('instance_status', (x) => {
      if (x === id || x === '*') changed()
    })
    try {
      for (;;) {
        const heard = new Promise<void>((r) => {
          changed = r
        })
        const row = await this.store.instances.get(id)
        if (row?.status === 'sleeping' && row.error)
          throw new Error(row.error.replace(/^it did not wake: /, ''))
        const leftMs = deadline - performance.now()
        if (row?.status !== 'waking' || this.closed || leftMs <= 0) return row
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          heard,
          new Promise((r) => {
            timer = setTimeout(r, Math.min(leftMs, OTHERS_WAKE_POLL_MS))
          }),
        ])
        clearTimeout(timer)
      }
    } finally {
      unsubscribe()
    }
  }

  /** Starts the sleeping gateway again and waits until it is ready (its boot timeout at most). */
  private async wakeGateway(row: InstanceRow): Promise<void> {
    if (!this.gateway?.enabled) return
    const client = this.gateway.client(row.id)
    let state: GatewayState = await client.wake()
    // A clawlet that never had its settings (it restarted meanwhile) boots its gateway afresh.
    if (state.status === 'disabled' && !state.error) return this.gateway.start(row)
    const deadline = performance.now() + this.config.gateway.readyTimeoutMs
    while (state.status !== 'ready') {
      if (this.closed) throw new Error('the server is stopping')
      if (state.status === 'disabled' && state.error) throw new Error(cleanText(state.error))
      if (performance.now() > deadline)
        throw new Error(
          `the OpenClaw gateway was not ready within ${this.config.gateway.readyTimeoutMs} ms (${state.status})`,
        )
      await new Promise((r) => setTimeout(r, POLL_MS))
      state = await client.state()
    }
  }
}

function reason(err: unknown): string {
  if (err instanceof AppError) return err.message
  return err instanceof Error ? err.message : String(err)
}
