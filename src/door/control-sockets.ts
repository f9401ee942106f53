import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ModelBroker } from '../broker/broker.js'
import type { InstanceDoors } from '../drivers/driver.js'
import { sendJson } from '../lib/http-body.js'
import type { Logger } from '../log.js'
import type { Caller } from './caller.js'
import type { DoorHandler } from './listen.js'

/** Serves the scoped Clawport API to an instance (the HTTP app, mounted once it is built). */
export type InstanceApiHandler = (caller: Caller, req: IncomingMessage, res: ServerResponse) => void

/**
 * Every instance's door back to the control plane: the driver listens where the instance can
 * reach it (the local driver: a Unix socket in the instance's door folder, bound read-only
 * inside at /run/clawport-door/control.sock) and vouches that whoever calls is that instance,
 * so no credential ever needs to be inside it. Here, its calls are routed: the model broker
 * under `/v1/`, the Clawport API scoped to the instance's owner (or its swarm) under `/api/`.
 */
export class ControlSockets {
  /** The doors open now, each with the driver that holds it. */
  private readonly opened = new Map<string, InstanceDoors>()
  private api?: InstanceApiHandler

  constructor(
    private readonly broker: ModelBroker,
    private readonly log: Logger,
  ) {}

  /** Mounts the scoped Clawport API on every instance's door. */
  serveApi(handler: InstanceApiHandler): void {
    this.api = handler
  }

  /**
   * Has `doors` (the instance's driver) open the door of instance `caller.instanceId`, run as
   * host uid `hostUid`, and routes its calls here (again, if it already is open).
   */
  async open(caller: Caller, hostUid: number, doors: InstanceDoors): Promise<void> {
    const held = this.opened.get(caller.instanceId)
    if (held && held !== doors) await this.close(caller.instanceId)
    await doors.openDoor(caller.instanceId, hostUid, this.route(caller))
    this.opened.set(caller.instanceId, doors)
    this.log.debug({ instanceId: caller.instanceId }, 'control socket open')
  }

  /** Closes an instance's door; calls in flight are cut. */
  async close(instanceId: string): Promise<void> {
    const doors = this.opened.get(instanceId)
    if (!doors) return
    this.opened.delete(instanceId)
    await doors.closeDoor(instanceId)
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.opened.keys()].map((id) => this.close(id)))
  }

  /** The routing of one instance's door calls (what its door serves). */
  route(caller: Caller): DoorHandler {
    return (req, res) => {
      const path = new URL(req.url ?? '/', 'http://control').pathname
      if (path.startsWith('/v1/')) {
        void this.broker.handle(caller, req, res, path)
        return
      }
      if ((path === '/api' || path.startsWith('/api/')) && this.api) {
        this.api(caller, req, res)
        return
      }
      sendJson(res, 404, { error: { message: `No route ${req.method} ${path}.`, code: 'not_found' } })
    }
  }
}
