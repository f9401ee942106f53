import { ClawletClient } from '../../door/clawlet/client.js'
import type { InstanceDriver } from '../../drivers/driver.js'

/** One kept-alive clawlet client per instance, opened on first use. */
export class ClawletClients {
  private readonly clients = new Map<string, ClawletClient>()
  private readonly unreachable = new Set<(id: string) => void>()

  constructor(private readonly driver: InstanceDriver) {}

  get(id: string): ClawletClient {
    let c = this.clients.get(id)
    if (!c) {
      // Asked on first use and after a failure: the instance may run elsewhere by then.
      c = new ClawletClient({
        transport: () => this.driver.endpoint(id),
        label: id,
        onUnreachable: () => {
          for (const fn of this.unreachable) fn(id)
        },
      })
      this.clients.set(id, c)
    }
    return c
  }

  /** Calls `fn` when a call finds an instance's clawlet unreachable. */
  onUnreachable(fn: (id: string) => void): void {
    this.unreachable.add(fn)
  }

  close(id: string): void {
    this.clients.get(id)?.close()
    this.clients.delete(id)
  }

  closeAll(): void {
    for (const id of [...this.clients.keys()]) this.close(id)
  }
}
