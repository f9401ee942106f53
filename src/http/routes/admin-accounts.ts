import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { Invite } from '../../core/invites.js'
import type { Services } from '../../core/services.js'
import { AdminPlan, AdminUser, UserAdmin } from '../../core/user-admin.js'
import { errors } from '../../errors.js'
import { callerOf } from '../plugins/auth.js'
import { ErrorBody, errorResponses } from '../schemas.js'

const Password = z.string().min(8, 'must have at least 8 characters').max(1000)
const UserParams = z.object({ id: z.string().min(1).max(100) })
const denied = { 403: ErrorBody, ...errorResponses(404, 409) }

/** Users, plans and invite codes for the admin pages; administrators only (403 `admin_required`). */
export const adminAccountRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (
  app,
  { services },
) => {
  const users = new UserAdmin(services.store, services.accounts)
  app.addHook('preHandler', async (request) => {
    if (!callerOf(request).user.is_admin) throw errors.adminOnly()
  })

  const route = (operationId: string, summary: string) => ({ operationId, summary, tags: ['admin'] })

  app.get(
    '/api/admin/users',
    {
      schema: {
        ...route('admin.users.list', 'Every user with plan and usage'),
        response: { 200: z.array(AdminUser), ...denied },
      },
    },
    async () => users.list(),
  )

  app.post(
    '/api/admin/users',
    {
      schema: {
        ...route('admin.users.create', 'Create a user'),
        body: z.object({
          email: z.string().trim().min(3).max(320),
          password: Password.optional(),
          plan: z.string().min(1).optional(),
          is_admin: z.boolean().optional(),
        }),
        response: { 201: AdminUser, ...denied },
      },
    },
    async (request, reply) => {
      const b = request.body
      const row = await services.accounts.createUser({
        email: b.email,
        password: b.password,
        plan: b.plan,
        admin: b.is_admin,
      })
      return reply.status(201).send(await users.get(row.id))
    },
  )

  app.patch(
    '/api/admin/users/:id',
    {
      schema: {
        ...route('admin.users.update', "Change a user's plan, subscription, role or password"),
        params: UserParams,
        body: z.object({
          plan: z.string().min(1).optional(),
          subscription_active: z.boolean().optional(),
          is_admin: z.boolean().optional(),
          password: Password.optional(),
        }),
        response: { 200: AdminUser, ...denied },
      },
    },
    async (request) => users.update(callerOf(request).user.id, request.params.id, request.body),
  )

  app.get(
    '/api/admin/plans',
    {
      schema: {
        ...route('admin.plans.list', 'Plans (from CLAWPORT_PLANS) and how many users each has'),
        response: { 200: z.array(AdminPlan), ...denied },
      },
    },
    async () => users.plans(),
  )

  app.get(
    '/api/admin/invites',
    {
      schema: {
        ...route('admin.invites.list', 'Invite codes, newest first'),
        response: { 200: z.array(Invite), ...denied },
      },
    },
    async () => services.store.invites.list(),
  )

  app.post(
    '/api/admin/invites',
    {
      schema: {
        ...route('admin.invites.create', 'Create an invite code'),
        body: z.object({
          plan: z.string().min(1).optional(),
          uses: z.number().int().min(1).max(100_000).optional(),
          expires_in_days: z.number().positive().max(3650).optional(),
        }),
        response: { 201: Invite, ...denied },
      },
    },
    async (request, reply) => {
      const b = request.body
      const invite = await services.invites.create({
        plan: b.plan,
        uses: b.uses,
        expiresInDays: b.expires_in_days,
      })
      return reply.status(201).send(invite)
    },
  )

  app.delete(
    '/api/admin/invites/:code',
    {
      schema: {
        ...route('admin.invites.delete', 'Delete an invite code; it can no longer be redeemed'),
        params: z.object({ code: z.string().min(1).max(200) }),
        response: { 204: z.null().describe('Deleted'), ...denied },
      },
    },
    async (request, reply) => {
      if (!(await services.store.invites.get(request.params.code)))
        throw errors.notFound('No such invite code.')
      await services.store.invites.remove(request.params.code)
      return reply.status(204).send(null)
    },
  )
}
