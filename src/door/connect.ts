import net from 'node:net'
import { type PeerCredentials, peerCredentials } from './unix-socket.js'

/** How the control plane reaches one instance's clawlet on this host. */
export interface DoorEndpoint {
  /** The clawlet's socket, in a folder no instance can write. */
  socketPath: string
  /**
   * Why the process at the other end is not this instance's clawlet, or null when it is.
   * Asked once for every new connection, before a byte is sent on it.
   */
  checkPeer?: (peer: PeerCredentials) => string | null
}

/** A connection refused because the listening process is not the instance's own. */
export class PeerRejectedError extends Error {
  readonly code = 'EPEERREJECTED'
}

type Callback = (err: Error | null, socket?: net.Socket) => void

/**
 * Opens a connection to `endpoint` and hands it over only once its peer passed the check, in the
 * callback shape of http's `createConnection` (http.Agent, http.request, ws).
 */
export function connectDoor(endpoint: DoorEndpoint, callback: Callback): void {
  const socket = net.connect(endpoint.socketPath)
  const fail = (err: Error) => callback(err)
  socket.once('error', fail)
  socket.once('connect', () => {
    socket.off('error', fail)
    let why: string | null = null
    if (endpoint.checkPeer) {
      try {
        const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
        if (typeof fd !== 'number' || fd < 0) throw new Error('no descriptor')
        why = endpoint.checkPeer(peerCredentials(fd))
      } catch (err) {
        why = `its peer could not be identified (${err instanceof Error ? err.message : String(err)})`
      }
    }
    if (why) {
      socket.destroy()
      callback(new PeerRejectedError(why))
      return
    }
    callback(null, socket)
  })
}

/** `connectDoor` as a `createConnection` option (it answers through the callback only). */
export function doorConnector(endpoint: DoorEndpoint): (options: unknown, callback: Callback) => undefined {
  return (_options, callback) => {
    connectDoor(endpoint, callback)
    return undefined
  }
}
