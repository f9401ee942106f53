import type { FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import type { CredentialWatch } from '../../../core/credential-watch.js'
import { CLOSE_CODES, type Relay } from '../../../core/socket-relay.js'

/**
 * Joins an upgraded client socket to its relay, and ends it (close code 4003) as soon as the
 * key or sign-in that opened it is revoked: a socket must not outlive its credential.
 */
export function attachWatched(
  relay: Relay | undefined,
  socket: WebSocket,
  request: FastifyRequest,
  watch: CredentialWatch,
): void {
  if (!relay) return
  relay.attach(socket)
  if (!request.caller) return
  const stop = watch.watch(request.caller, (reason) => relay.close(CLOSE_CODES.credentialRevoked, reason))
  socket.once('close', stop)
}
