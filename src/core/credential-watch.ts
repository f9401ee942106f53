import type { Caller } from './caller.js'

/** How often open streams' credentials are checked again (expiry, a revocation by another process). */
export const RECHECK_MS = 30_000

interface Watcher {
  caller: Caller
  end: (reason: string) => void
}

/**
 * Long-lived connections (WebSockets, event streams) by the credential that opened them, so
 * that revoking a key or signing out ends them at once instead of letting them outlive it.
 * Credentials that lapse otherwise (an expired key, a session removed elsewhere) are found by a
 * check every 30 s while anything is watched.
 */
export class CredentialWatch {
  private readonly watchers = new Set<Watcher>()
  private timer?: NodeJS.Timeout

  constructor(
    private readonly isCurrent: (caller: Caller) => Promise<boolean>,
    private readonly recheckMs = RECHECK_MS,
  ) {}

  /** Calls `end` once when the caller's credential stops being valid; the answer stops watching. */
  watch(caller: Caller, end: (reason: string) => void): () => void {
    let ended = false
    const w: Watcher = {
      caller,
      end: (reason) => {
        if (ended) return
        ended = true
        this.watchers.delete(w)
        end(reason)
      },
    }
    this.watchers.add(w)
    if (!this.timer) {
      this.timer = setInterval(() => void this.recheck(), this.recheckMs)
      this.timer.unref()
    }
    return () => {
      ended = true
      this.watchers.delete(w)
      if (this.watchers.size === 0) this.stopTimer()
    }
  }

  /** Ends everything opened with this credential (an API key id, or `web_<session id>`). */
  end(keyId: string, reason: string): void {
    for (const w of [...this.watchers]) if (w.caller.keyId === keyId) w.end(reason)
  }

  /** Ends everything a user opened, whatever the credential (the user was disabled or deleted). */
  endUser(userId: string, reason: string): void {
    for (const w of [...this.watchers]) if (w.caller.user.id === userId) w.end(reason)
  }

  private async recheck(): Promise<void> {
    const byKey = new Map<string, Watcher[]>()
    for (const w of this.watchers) byKey.set(w.caller.keyId, [...(byKey.get(w.caller.keyId) ?? []), w])
    for (const ws of byKey.values()) {
      const current = await this.isCurrent((ws[0] as Watcher).caller).catch(() => true)
      if (!current) for (const w of ws) w.end('credential no longer valid')
    }
    if (this.watchers.size === 0) this.stopTimer()
  }

  private stopTimer(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }
}
