import type { RawData, WebSocket } from 'ws'
import type { ClawletSocket } from '../door/clawlet/client.js'
import type { EventBus } from './shared/bus.js'

/** Close codes the public sockets end with (besides the upstream's own 1000 "shell exited"). */
export const CLOSE_CODES = {
  /** The instance is shutting down, rebooting or being deleted. */
  instanceStopping: 4001,
  /** The connection to the instance broke without a stop being asked for. */
  instanceLost: 1011,
  /** The control plane itself is shutting down. */
  serverStopping: 1001,
  /** The key or sign-in that opened the socket was revoked (or signed out, or expired). */
  credentialRevoked: 4003,
  /** The client stopped answering keepalive pings. */
  keepaliveTimeout: 4008,
} as const

/** How often idle public sockets are pinged; one missed pong ends the socket. */
export const KEEPALIVE_MS = 25_000
/** An opened upstream waits this long for its client's upgrade before it is dropped. */
const ATTACH_TIMEOUT_MS = 10_000
/** Unsent bytes on either side past which the other side stops being read. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
}

/** Codes a peer may not send itself (1005, 1006, 1015) are mapped to ones it may. */
function forwardable(code: number): number {
  if (code === 1005) return 1000
  if (code === 1000 || code === 1001 || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999))
    return code
  return CLOSE_CODES.instanceLost
}

/**
 * A public WebSocket joined to a clawlet WebSocket, frame for frame: binary stays binary,
 * text stays text. The upstream is opened first (so refusals are plain HTTP answers) and
 * queues what it receives until the client is attached.
 */
export class Relay {
  private client?: WebSocket
  private queue: Array<[Buffer, boolean]> = []
  private queuedBytes = 0
  private done = false
  private alive = true
  private keepalive?: NodeJS.Timeout
  private readonly attachTimer: NodeJS.Timeout
  private readonly upstream: WebSocket

  constructor(
    readonly instanceId: string,
    socket: ClawletSocket,
    private readonly onDone: (r: Relay) => void,
    private readonly keepaliveMs: number,
  ) {
    const upstream = socket.ws
    this.upstream = upstream
    // Synchronously with the listener below, so no frame falls between the two.
    for (const [data, isBinary] of socket.takeEarly()) this.hold(data, isBinary)
    upstream.on('message', (data, isBinary) => {
      if (this.client) this.toClient(toBuffer(data), isBinary)
      else this.hold(toBuffer(data), isBinary)
    })
    upstream.on('error', () => {})
    upstream.once('close', (code, reason) => {
      const text = reason.toString()
      this.close(forwardable(code), code === 1006 ? 'instance connection lost' : text)
    })
    this.attachTimer = setTimeout(() => this.close(1001, 'client never attached'), ATTACH_TIMEOUT_MS)
    this.attachTimer.unref()
  }

  /** Starts relaying to the upgraded client socket. */
  attach(client: WebSocket): void {
    clearTimeout(this.attachTimer)
    if (this.done) {
      client.close(CLOSE_CODES.instanceLost, 'instance connection lost')
      return
    }
    this.client = client
    client.on('error', () => {})
    for (const [data, isBinary] of this.queue) this.toClient(data, isBinary)
    this.queue = []
    this.queuedBytes = 0
    if (client.bufferedAmount <= HIGH_WATER_BYTES) this.upstream.resume()
    client.on('message', (data, isBinary) => {
      this.upstream.send(toBuffer(data), { binary: isBinary }, () => {
        if (this.upstream.bufferedAmount < HIGH_WATER_BYTES / 4) client.resume()
      })
      if (this.upstream.bufferedAmount > HIGH_WATER_BYTES) client.pause()
    })
    client.on('pong', () => {
      this.alive = true
    })
    client.once('close', () => this.close(1000, 'client closed'))
    this.keepalive = setInterval(() => {
      if (!this.alive) {
        this.close(CLOSE_CODES.keepaliveTimeout, 'keepalive timeout')
        client.terminate()
        return
      }
      this.alive = false
      client.ping()
    }, this.keepaliveMs)
    this.keepalive.unref()
  }

  /** Keeps a frame for the client to come; past the high water the instance is no longer read. */
  private hold(data: Buffer, isBinary: boolean): void {
    this.queue.push([data, isBinary])
    this.queuedBytes += data.length
    if (this.queuedBytes > HIGH_WATER_BYTES) this.upstream.pause()
  }

  private toClient(data: Buffer, isBinary: boolean): void {
    const client = this.client as WebSocket
    if (client.readyState !== client.OPEN) return
    client.send(data, { binary: isBinary }, () => {
      if (client.bufferedAmount < HIGH_WATER_BYTES / 4) this.upstream.resume()
    })
    if (client.bufferedAmount > HIGH_WATER_BYTES) this.upstream.pause()
  }

  /** Ends both sides once; the client sees `code` and `reason`. */
  close(code: number, reason: string): void {
    if (this.done) return
    this.done = true
    clearTimeout(this.attachTimer)
    clearInterval(this.keepalive)
    const c = this.client
    if (c && (c.readyState === c.OPEN || c.readyState === c.CONNECTING)) c.close(code, reason.slice(0, 120))
    if (this.upstream.readyState === this.upstream.OPEN) this.upstream.close(1000, 'client gone')
    else if (this.upstream.readyState === this.upstream.CONNECTING) this.upstream.terminate()
    this.onDone(this)
  }
}

/** Statuses in which an instance's sockets have nothing left to relay. */
const GONE = new Set(['rebooting', 'stopping', 'stopped', 'deleting', 'error'])

/**
 * Why an instance's relays close, told from its status (as `InstanceLifecycle` tells its own
 * replica's sockets), for replicas that hear only that they must.
 */
export function stopReason(id: string, status: string | undefined): string {
  switch (status) {
    case undefined:
    case 'deleting':
      return `instance ${id} is being deleted`
    case 'rebooting':
      return `instance ${id} is rebooting`
    case 'stopping':
    case 'stopped':
      return `instance ${id} is shutting down`
    default:
      return `instance ${id} stopped unexpectedly`
  }
}

/**
 * Every live relay, by instance, so an instance that stops closes its sockets clearly, on every
 * replica: the one that stops it announces `relay_close`, and each closes its own.
 */
export class RelayRegistry {
  private readonly byInstance = new Map<string, Set<Relay>>()
  private bus?: EventBus
  private unsubscribe?: () => void

  constructor(private readonly keepaliveMs = KEEPALIVE_MS) {}

  /**
   * Closes this replica's relays of instances stopped on any replica. `status` reads an
   * instance's status (undefined: it is gone), for the close reason and to find, after the bus
   * lost wake-ups, which instances stopped meanwhile.
   */
  follow(bus: EventBus, status: (id: string) => Promise<string | undefined>): void {
    this.bus = bus
    this.unsubscribe = bus.subscribe('relay_close', (id) => void this.onRelayClose(id, status))
  }

  add(instanceId: string, upstream: ClawletSocket): Relay {
    const relay = new Relay(instanceId, upstream, (r) => this.remove(r), this.keepaliveMs)
    let set = this.byInstance.get(instanceId)
    if (!set) {
      set = new Set()
      this.byInstance.set(instanceId, set)
    }
    set.add(relay)
    return relay
  }

  count(instanceId: string): number {
    return this.byInstance.get(instanceId)?.size ?? 0
  }

  closeInstance(instanceId: string, code: number, reason: string): void {
    for (const r of [...(this.byInstance.get(instanceId) ?? [])]) r.close(code, reason)
  }

  /** The instance is stopping: its relays close here at once, and on the other replicas. */
  stopInstance(instanceId: string, reason: string): void {
    this.closeInstance(instanceId, CLOSE_CODES.instanceStopping, reason)
    this.bus?.publish('relay_close', instanceId).catch(() => {
      // Their relays still end when the instance's sockets do, only less clearly.
    })
  }

  closeAll(code: number, reason: string): void {
    this.unsubscribe?.()
    for (const id of [...this.byInstance.keys()]) this.closeInstance(id, code, reason)
  }

  private async onRelayClose(id: string, status: (id: string) => Promise<string | undefined>): Promise<void> {
    const ids = id === '*' ? [...this.byInstance.keys()] : this.byInstance.has(id) ? [id] : []
    for (const instanceId of ids) {
      let now: string | undefined
      try {
        now = await status(instanceId)
      } catch {
        now = 'error'
      }
      // After lost wake-ups only those that stopped meanwhile; a named one closes whatever it shows.
      if (id === '*' && now !== undefined && !GONE.has(now)) continue
      this.closeInstance(instanceId, CLOSE_CODES.instanceStopping, stopReason(instanceId, now))
    }
  }

  private remove(r: Relay): void {
    const set = this.byInstance.get(r.instanceId)
    set?.delete(r)
    if (set?.size === 0) this.byInstance.delete(r.instanceId)
  }
}
