import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AuditActor, AuditService } from '../../core/audit.js'
import { nowIso } from '../../core/time.js'
import { doorOf } from './instance-door.js'

const READS = new Set(['GET', 'HEAD', 'OPTIONS'])
const CREATED_INSTANCE = Symbol('clawport.createdInstance')

type AuditedRequest = FastifyRequest & { [CREATED_INSTANCE]?: string }

/** What authenticated a caller, from the shape of its key id (see keys, web sessions, the door). */
function actorOf(keyId: string): { actor: AuditActor; actor_id: string } {
  if (keyId.startsWith('web_')) return { actor: 'web_session', actor_id: keyId.slice(4) }
  if (keyId.startsWith('instance:')) return { actor: 'instance', actor_id: keyId.slice(9) }
  return { actor: 'api_key', actor_id: keyId }
}

/**
 * Records every authenticated write request once its answer is sent (onResponse), so the audit
 * never delays it. Reads are not recorded; neither are requests refused before a caller is known.
 */
export function registerAudit(app: FastifyInstance, audit: AuditService): void {
  // A create names its instance only in its answer.
  app.addHook('onSend', async (request, reply, payload) => {
    if (
      request.method === 'POST' &&
      request.routeOptions.url === '/api/instances' &&
      reply.statusCode === 201 &&
      typeof payload === 'string'
    ) {
      const id = /"id":"([0-9a-f-]{36})"/.exec(payload)?.[1]
      if (id) (request as AuditedRequest)[CREATED_INSTANCE] = id
    }
    return payload
  })
  app.addHook('onResponse', async (request, reply) => {
    const caller = request.caller
    const route = request.routeOptions.url
    if (!caller || !route || READS.has(request.method)) return
    const params = request.params as Record<string, unknown> | undefined
    const instanceId =
      (route.startsWith('/api/instances/:id') && typeof params?.id === 'string' ? params.id : undefined) ??
      (request as AuditedRequest)[CREATED_INSTANCE] ??
      caller.instanceId ??
      null
    audit.record({
      created_at: nowIso(),
      user_id: caller.user.id,
      ...actorOf(caller.keyId),
      action: request.routeOptions.schema?.operationId ?? `${request.method} ${route}`,
      method: request.method,
      route,
      instance_id: instanceId,
      status: reply.statusCode,
      // A door is a Unix socket: no address, the actor names the instance.
      ip: doorOf(request) ? null : (request.ip ?? null),
    })
  })
}
