import type { InstanceService } from './instances.js'
import type { Actor } from './scope.js'
import type { Relay, RelayRegistry } from './socket-relay.js'

/** The instances' desktops: the RFB stream for VNC viewers, and screenshots. */
export class DesktopService {
  constructor(
    private readonly instances: InstanceService,
    private readonly relays: RelayRegistry,
  ) {}

  /** Connects to the instance's VNC server before the caller upgrades its client. */
  async open(actor: Actor, id: string): Promise<Relay> {
    const client = await this.instances.readyClient(actor, id)
    const upstream = await client.openSocket('/v1/vnc/ws')
    return this.relays.add(id.toLowerCase(), upstream)
  }

  /** A PNG of the whole screen. */
  async screenshot(actor: Actor, id: string): Promise<Buffer> {
    return (await this.instances.readyClient(actor, id)).screenshot()
  }
}
