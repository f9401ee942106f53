import fs from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import path from 'node:path'
import { peerCredentials } from '../door/unix-socket.js'
import type { Logger } from '../log.js'
import type { Caller, ModelBroker } from './broker.js'

/** Serves the scoped Clawport API to an instance (the HTTP app, mounted once it is built). */
export type InstanceApiHandler = (caller: Caller, req: IncomingMessage, res: ServerResponse) => void

/**
 * One Unix socket per instance in its door folder (`<root>/door/control.sock`, root's, bound
 * read-only inside at /run/clawport-door/control.sock): the instance's way back to the control
 * plane. Whoever connects
 * on an instance's socket is that instance, so no credential ever needs to be inside it.
 * It serves the model broker under `/v1/` and the Clawport API, scoped to the instance's owner
 * (or its swarm), under `/api/`.
 */
export class ControlSockets {
  private readonly servers = new Map<string, { server: Server; path: string }>()
  private api?: InstanceApiHandler

  constructor(
    private readonly broker: ModelBroker,
    private readonly log: Logger,
  ) {}

  /** Mounts the scoped Clawport API on every instance's socket. */
  serveApi(handler: InstanceApiHandler): void {
    this.api = handler
  }

  /** Listens on `socketPath` for instance `caller.instanceId` (again, if it already did). */
  async open(caller: Caller, socketPath: string, hostUid: number | null): Promise<void> {
    const existing = this.servers.get(caller.instanceId)
    if (existing?.path === socketPath && existing.server.listening) return
    await this.close(caller.instanceId)
    const server = createServer({ requestTimeout: 0, keepAliveTimeout: 60_000 }, (req, res) => {
      const path = new URL(req.url ?? '/', 'http://control').pathname
      if (path.startsWith('/v1/')) {
        void this.broker.handle(caller, req, res, path)
        return
      }
      if ((path === '/api' || path.startsWith('/api/')) && this.api) {
        this.api(caller, req, res)
        return
      }
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: `No route ${req.method} ${path}.`, code: 'not_found' } }))
    })
    // Whoever connects must be the instance's own uid: the socket's mode says so, and so does
    // the kernel's account of the peer, checked before a byte of the request is read.
    server.prependListener('connection', (socket: Socket) => {
      const why = peerMismatch(socket, hostUid ?? process.getuid?.() ?? -1)
      if (!why) return
      this.log.warn({ instanceId: caller.instanceId, why }, 'control socket peer refused')
      socket.destroy()
    })
    // Root calls below go by path: only in a folder no instance can write into.
    if (process.getuid?.() === 0) await assertRootFolder(path.dirname(socketPath))
    // A socket file left by an earlier control-plane process would make listen fail.
    await fs.rm(socketPath, { force: true })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(socketPath, () => {
        server.off('error', reject)
        resolve()
      })
    })
    // Only the instance's own uid may connect.
    if (hostUid !== null) await fs.lchown(socketPath, hostUid, hostUid)
    await fs.chmod(socketPath, 0o600)
    this.servers.set(caller.instanceId, { server, path: socketPath })
    this.log.debug({ instanceId: caller.instanceId }, 'control socket open')
  }

  /** Stops listening for an instance; calls in flight are cut. */
  async close(instanceId: string): Promise<void> {
    const entry = this.servers.get(instanceId)
    if (!entry) return
    this.servers.delete(instanceId)
    await new Promise<void>((resolve) => {
      entry.server.close(() => resolve())
      entry.server.closeAllConnections()
    })
    await fs.rm(entry.path, { force: true }).catch(() => {})
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.servers.keys()].map((id) => this.close(id)))
  }
}

/** Why the peer of an accepted connection is not `uid`, or null when it is. */
function peerMismatch(socket: Socket, uid: number): string | null {
  try {
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
    if (typeof fd !== 'number' || fd < 0) return 'no descriptor'
    const peer = peerCredentials(fd)
    return peer.uid === uid ? null : `peer uid ${peer.uid}, not ${uid}`
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  }
}

/** Refuses a folder an unprivileged user could rename things in (not root's, or writable by others). */
async function assertRootFolder(dir: string): Promise<void> {
  const st = await fs.lstat(dir)
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0)
    throw new Error(`refusing to listen in ${dir}: it is not a folder only root can write`)
}
