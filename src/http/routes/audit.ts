import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { AuditEntry } from '../../core/audit.js'
import type { Services } from '../../core/services.js'
import { errors } from '../../errors.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses } from '../schemas.js'

const AuditQuery = z.object({
  instance_id: z.string().max(100).optional().describe('Only entries about this instance'),
  user_id: z.string().max(100).optional().describe("Administrators only: another user's entries"),
  before: z.coerce.number().int().min(1).optional().describe('Only entries with an id below this (paging)'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
})

/** The audit log: who did what, read by its owner. */
export const auditRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/api/audit',
    {
      schema: {
        operationId: 'audit.list',
        summary: 'Your audit log: every write request, who made it and its result, newest first',
        description:
          'Each entry names the action (the operationId), the API key, web session or instance that made it, the instance it touched, the HTTP status of the answer, the time and the client address. Reads are not recorded. Entries are kept for the server retention period (CLAWPORT_AUDIT_RETENTION_DAYS, 90 days by default).',
        tags: ['account'],
        querystring: AuditQuery,
        response: { 200: z.array(AuditEntry), ...errorResponses('admin_required') },
      },
    },
    async (request) => {
      const { user } = callerOf(request)
      const q = request.query
      if (q.user_id && q.user_id !== user.id && !user.is_admin) throw errors.adminOnly()
      return services.audit.list({
        userId: q.user_id ?? user.id,
        limit: q.limit,
        ...(q.instance_id ? { instanceId: q.instance_id.toLowerCase() } : {}),
        ...(q.before !== undefined ? { before: q.before } : {}),
      })
    },
  )
}
