import net from 'node:net'
import type { UnixTransport } from './transport.js'
import { peerCredentials } from './unix-socket.js'

/** A connection refused because the listening process is not the instance's own. */
export class PeerRejectedError extends Error {
  readonly code = 'EPEERREJECTED'
}

type Callback = (err: Error | null, socket?: net.Socket) => void

/**
 * Opens a connection to a clawlet's Unix socket and hands it over only once its peer passed the
 * check, in the callback shape of http's `createConnection` (http.Agent, http.request, ws).
 */
export function connectDoor(transport: UnixTransport, callback: Callback): void {
  const socket = net.connect(transport.unix)
  const fail = (err: Error) => callback(err)
  socket.once('error', fail)
  socket.once('connect', () => {
    socket.off('error', fail)
    let why: string | null = null
    if (transport.checkPeer) {
      try {
        const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
        if (typeof fd !== 'number' || fd < 0) throw new Error('no descriptor')
        why = transport.checkPeer(peerCredentials(fd))
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
export function doorConnector(transport: UnixTransport): (options: unknown, callback: Callback) => undefined {
  return (_options, callback) => {
    connectDoor(transport, callback)
    return undefined
  }
}
