/**
 * When each instance was last used, and what is using it right now. Fed by small calls from the
 * places where use happens (API requests, chat turns, inbox messages, pipeline steps); open
 * terminal and desktop sockets are counted by whoever owns them (see `SleepService`). In memory
 * only: after a server restart every instance starts a fresh idle period. Replicas sharing a
 * host pass on what they saw (`takeUsed`), so the one that sweeps counts use on every replica.
 */
export class IdleTracker {
  private readonly lastUsed = new Map<string, number>()
  private readonly holds = new Map<string, number>()
  /** Instances used since the last `takeUsed`. */
  private readonly usedSince = new Set<string>()

  constructor(private readonly now: () => number = Date.now) {}

  /** The instance was used just now. */
  touch(instanceId: string): void {
    const id = instanceId.toLowerCase()
    this.lastUsed.set(id, this.now())
    this.usedSince.add(id)
  }

  /**
   * The instance is in use until the returned function is called (idempotent): a turn or a
   * step that runs longer than the idle period never has its instance put to sleep under it.
   */
  hold(instanceId: string): () => void {
    const id = instanceId.toLowerCase()
    this.holds.set(id, (this.holds.get(id) ?? 0) + 1)
    this.lastUsed.set(id, this.now())
    this.usedSince.add(id)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (this.holds.get(id) ?? 1) - 1
      if (left > 0) this.holds.set(id, left)
      else this.holds.delete(id)
      this.lastUsed.set(id, this.now())
      this.usedSince.add(id)
    }
  }

  /** Whether something holds the instance right now. */
  busy(instanceId: string): boolean {
    return (this.holds.get(instanceId.toLowerCase()) ?? 0) > 0
  }

  /**
   * How long the instance has been unused (0 while held). One never seen counts from now on,
   * so an instance met for the first time (a boot, a server restart) gets a whole idle period.
   */
  idleMs(instanceId: string): number {
    const id = instanceId.toLowerCase()
    if (this.busy(id)) return 0
    const last = this.lastUsed.get(id)
    if (last === undefined) {
      this.lastUsed.set(id, this.now())
      return 0
    }
    return this.now() - last
  }

  /** The instances used since the last call, and those held now; the next call starts afresh. */
  takeUsed(): string[] {
    const ids = new Set([...this.usedSince, ...this.holds.keys()])
    this.usedSince.clear()
    return [...ids]
  }

  /** Puts back instances a failed `takeUsed` handed out, for the next call. */
  untake(ids: Iterable<string>): void {
    for (const id of ids) this.usedSince.add(id)
  }

  /** Every instance seen here (and not forgotten). */
  known(): string[] {
    return [...this.lastUsed.keys()]
  }

  /** Forgets every instance not in `ids` (deleted ones). */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.lastUsed.keys()) if (!ids.has(id) && !this.busy(id)) this.lastUsed.delete(id)
    for (const id of this.usedSince) if (!ids.has(id)) this.usedSince.delete(id)
  }
}
