import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { Instance } from '../../core/instance-types.js'
import { Invite } from '../../core/invites.js'
import type { Services } from '../../core/services.js'
import { AdminPlan, AdminUser, UserAdmin } from '../../core/user-admin.js'
import { errors } from '../../errors.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses } from '../schemas.js'

const Password = z.string().min(8, 'must have at least 8 characters').max(1000)
const UserParams = z.object({ id: z.string().min(1).max(100) })
const denied = errorResponses(
  'admin_required',
  'user_not_found',
  'not_found',
  'plan_not_found',
  'own_account',
  'user_has_instances',
  'user_exists',
  'invalid_state',
)

/** Users, plans and invite codes for the admin pages; administrators only (403 `admin_required`). */
export const adminAccountRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (
  app,
  { services },
) => {
  const users = new UserAdmin(services)
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
    '/api/admin/users/:id/instances',
    {
      schema: {
        ...route('admin.users.instances', "A user's instances, newest first"),
        description:
          "Each opens like one of your own: an administrator signed in (or with their own key) reaches every user's instance through /api/instances/{id}, never from inside an instance.",
        params: UserParams,
        response: { 200: z.array(Instance), ...denied },
      },
    },
    async (request) => users.instances(request.params.id),
  )

  app.post(
    '/api/admin/users/:id/disable',
    {
      schema: {
        ...route('admin.users.disable', 'Disable a user'),
        description:
          'Their API keys and dashboard sign-ins stop at once (401 `user_disabled`, open streams end) and they cannot sign in; their pipelines do not start (webhooks answer 401, schedules pass). Their instances, keys and data stay. 409 `own_account` for yourself.',
        params: UserParams,
        response: { 200: AdminUser, ...denied },
      },
    },
    async (request) => users.disable(callerOf(request).user.id, request.params.id),
  )

  app.post(
    '/api/admin/users/:id/enable',
    {
      schema: {
        ...route('admin.users.enable', 'Enable a disabled user again'),
        description: 'Their keys work again; they sign in afresh.',
        params: UserParams,
        response: { 200: AdminUser, ...denied },
      },
    },
    async (request) => users.enable(request.params.id),
  )

  app.delete(
    '/api/admin/users/:id',
    {
      schema: {
        ...route('admin.users.delete', 'Delete a user'),
        description:
          'Deletes the user with their keys, sign-ins, settings, swarms and pipelines. Refused with 409 `user_has_instances` while they have instances (the safer choice: no workspace is destroyed as a side effect); delete those first. 409 `own_account` for yourself.',
        params: UserParams,
        response: { 204: z.null().describe('Deleted'), ...denied },
      },
    },
    async (request, reply) => {
      await users.remove(callerOf(request).user.id, request.params.id)
      return reply.status(204).send(null)
    },
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
    async () => services.invites.list(),
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
      await services.invites.remove(request.params.code)
      return reply.status(204).send(null)
    },
  )
}
