import fs from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import path from 'node:path'
import { peerCredentials } from './unix-socket.js'

const PROBE_TIMEOUT_MS = 2_000

/** Answers the requests an instance makes through its door (the control plane's routing). */
export type DoorHandler = (req: IncomingMessage, res: ServerResponse) => void

/** An instance's door listening on a Unix socket on this host. */
export interface UnixDoor {
  readonly socketPath: string
  readonly listening: boolean
  /** Stops listening and removes the socket file; calls in flight are cut. */
  close(): Promise<void>
}

export interface UnixDoorOptions {
  socketPath: string
  /** The only uid that may connect, and the socket's owner; null when not root (then: our own uid). */
  hostUid: number | null
  handler: DoorHandler
  /** Told why a connection was refused before any of it was read. */
  onRefused?: (why: string) => void
}

/**
 * Serves `handler` on a Unix socket at `socketPath`, in a folder only root can write (when root).
 * Whoever connects must be the instance's own uid: the socket's mode says so, and so does the
 * kernel's account of the peer, checked before a byte of the request is read.
 */
export async function listenUnixDoor(opts: UnixDoorOptions): Promise<UnixDoor> {
  const { socketPath, hostUid } = opts
  const server: Server = createServer({ requestTimeout: 0, keepAliveTimeout: 60_000 }, opts.handler)
  const uid = hostUid ?? process.getuid?.() ?? -1
  server.prependListener('connection', (socket: Socket) => {
    const peer = peerUid(socket)
    if (peer === uid) return
    // Root is a control-plane process asking whether the door lives (`unixDoorAnswers`): it is
    // dropped like any other stranger, but it is no cause for a warning.
    if (peer !== 0) opts.onRefused?.(typeof peer === 'number' ? `peer uid ${peer}, not ${uid}` : peer)
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
  // Which file is ours: another replica that took the door over has put its own at this path.
  const { ino } = await fs.lstat(socketPath)
  return {
    socketPath,
    get listening() {
      return server.listening
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      const now = await fs.lstat(socketPath).catch(() => undefined)
      if (now?.ino === ino) await fs.rm(socketPath, { force: true }).catch(() => {})
    },
  }
}

/**
 * Whether a door listens at `socketPath` (whichever process holds it): a listening server
 * accepts the connection, then drops it (root is no instance). Only a refused connection or no
 * socket file at all says it is dead; anything else counts as alive, so a live door is never
 * taken over.
 */
export function unixDoorAnswers(socketPath: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath)
    const done = (alive: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(alive)
    }
    const timer = setTimeout(() => done(true), timeoutMs)
    socket.once('connect', () => done(true))
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'),
    )
  })
}

/** The uid of the peer of an accepted connection, or why it is not known. */
function peerUid(socket: Socket): number | string {
  try {
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
    if (typeof fd !== 'number' || fd < 0) return 'no descriptor'
    return peerCredentials(fd).uid
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
