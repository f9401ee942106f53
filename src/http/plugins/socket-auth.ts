import type { FastifyRequest } from 'fastify'
import type { WsTicketService } from '../../core/ws-tickets.js'
import type { SocketCredential } from './auth.js'

/** `?ticket=` from POST /api/instances/{id}/ws-ticket: single use, bound to the user and that instance. */
export function ticketCredential(tickets: WsTicketService): SocketCredential {
  return async (request: FastifyRequest) => {
    const ticket = (request.query as Record<string, unknown> | undefined)?.ticket
    if (typeof ticket !== 'string' || ticket === '') return undefined
    const id = (request.params as { id?: unknown } | undefined)?.id
    return tickets.redeem(ticket, typeof id === 'string' ? id : '')
  }
}

/**
 * Every socket credential, in the order they are tried. The dashboard's session cookie joins
 * this list (as another SocketCredential) once dashboard sessions exist.
 */
export function socketCredentials(tickets: WsTicketService): SocketCredential[] {
  return [ticketCredential(tickets)]
}
