import type { Logger } from '../../log.js'
import type { InstanceRow, Store } from '../../store/index.js'
import type { InstanceStatus } from '../instance-types.js'
import { nowIso } from '../time.js'

/** One persisted change of an instance's status. */
export interface InstanceTransition {
  instanceId: string
  /** null: the instance was just created. */
  from: InstanceStatus | null
  to: InstanceStatus
  /**
   * Why, when it is not the plain course of what was asked for: a crash, a failed boot, a
   * recovery after a control-plane restart. null for an asked-for action and its outcome.
   */
  reason: string | null
  at: string
}

export type TransitionListener = (t: InstanceTransition) => void

/** An action an owner may ask for: the statuses it may start from, the one it passes through. */
export interface ActionRule {
  from: readonly InstanceStatus[]
  via: InstanceStatus
  /** Already there: the action answers at once and does nothing. */
  done?: InstanceStatus
}

/** What each asked-for action may do; a new action (or status) is a new row here. */
export const ACTIONS = {
  reboot: { from: ['ready', 'sleeping', 'error', 'stopped'], via: 'rebooting' },
  shutdown: { from: ['ready', 'sleeping', 'error'], via: 'stopping', done: 'stopped' },
  start: { from: ['stopped', 'error'], via: 'starting', done: 'ready' },
} as const satisfies Record<string, ActionRule>

export type InstanceAction = keyof typeof ACTIONS

/** The statuses an asked-for action (or a delete) passes through. */
export const ASKED_STATUSES: ReadonlySet<InstanceStatus> = new Set<InstanceStatus>([
  ...Object.values(ACTIONS).map((a): InstanceStatus => a.via),
  'deleting',
])

/** Writes status changes and tells listeners after each one is stored. */
export class StatusWriter {
  private readonly listeners = new Set<TransitionListener>()

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  listen(listener: TransitionListener): void {
    this.listeners.add(listener)
  }

  /** Sets the status (with any other fields) and reports the change; 404 when the row is gone. */
  async set(
    id: string,
    to: InstanceStatus,
    extra: Partial<InstanceRow> = {},
    reason: string | null = null,
  ): Promise<InstanceRow | undefined> {
    // Read and written together, so `from` is the status this write replaced.
    const result = await this.store.transaction(async (tx) => {
      const before = await tx.instances.get(id)
      if (!before) return undefined
      const row = await tx.instances.update(id, { status: to, updated_at: nowIso(), ...extra })
      return row && { row, from: before.status as InstanceStatus }
    })
    if (!result) return undefined
    if (result.from !== to)
      this.emit({ instanceId: id, from: result.from, to, reason, at: result.row.updated_at })
    return result.row
  }

  /** Reports a row just inserted (its first status). */
  created(row: InstanceRow): void {
    this.emit({
      instanceId: row.id,
      from: null,
      to: row.status as InstanceStatus,
      reason: null,
      at: row.created_at,
    })
  }

  private emit(t: InstanceTransition): void {
    for (const listener of this.listeners) {
      // A listener's failure is its own: the state machine carries on.
      try {
        const result: unknown = listener(t)
        if (result instanceof Promise)
          result.catch((err: unknown) =>
            this.log.error({ err, instanceId: t.instanceId }, 'transition listener failed'),
          )
      } catch (err) {
        this.log.error({ err, instanceId: t.instanceId }, 'transition listener failed')
      }
    }
  }
}
