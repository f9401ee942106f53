import { connect, createServer, type Server } from 'node:net'
import { CONTROL_PORT } from '../wire/gateway.js'

/**
 * Forwards a loopback TCP port inside the instance to the control plane's per-instance Unix
 * socket (bound at /run/clawport-door/control.sock, read-only), so programs that only speak HTTP over TCP
 * (the gateway's model provider) reach the broker. The control plane knows the caller by the
 * socket, so nothing here carries a credential.
 */
export function startControlForward(socketPath: string, port = CONTROL_PORT): Promise<Server> {
  const server = createServer((inbound) => {
    const outbound = connect(socketPath)
    inbound.pipe(outbound)
    outbound.pipe(inbound)
    const drop = () => {
      inbound.destroy()
      outbound.destroy()
    }
    inbound.once('error', drop)
    outbound.once('error', drop)
    inbound.once('close', drop)
    outbound.once('close', drop)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve(server)
    })
  })
}
