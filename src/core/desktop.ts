import type { InstanceService } from './instances.js'
import type { Actor } from './scope.js'
import type { SleepService } from './sleep/sleep-service.js'
import type { Relay, RelayRegistry } from './socket-relay.js'

/** The instances' desktops: the RFB stream for VNC viewers, and screenshots. */
export class DesktopService {
  constructor(
    private readonly instances: InstanceService,
    private readonly relays: RelayRegistry,
    private readonly sleep?: SleepService,
  ) {}

  /** Connects to the instance's VNC server before the caller upgrades its client. */
  async open(actor: Actor, id: string): Promise<Relay> {
    await this.wakeDesktop(actor, id)
    const client = await this.instances.readyClient(actor, id)
    const upstream = await client.openSocket('/v1/vnc/ws')
    return this.relays.add(id.toLowerCase(), upstream)
  }

  /** A PNG of the whole screen. */
  async screenshot(actor: Actor, id: string): Promise<Buffer> {
    await this.wakeDesktop(actor, id)
    return (await this.instances.readyClient(actor, id)).screenshot()
  }

  /** A sleeping instance's desktop is back in a moment; its agent follows in the background. */
  private async wakeDesktop(actor: Actor, id: string): Promise<void> {
    if (this.sleep) await this.sleep.awake(await this.instances.owned(actor, id), 'desktop')
  }
}
