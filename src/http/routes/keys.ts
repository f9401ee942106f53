import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { Me } from '../../core/accounts.js'
import { ApiKey, CreatedApiKey } from '../../core/keys.js'
import type { Services } from '../../core/services.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses } from '../schemas.js'

const CreateKeyBody = z.object({
  name: z.string().trim().min(1).max(100),
  expires_at: z.iso.datetime({ offset: true }).nullish(),
})

/** API keys and the account behind them. */
export const keyRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.post(
    '/api/keys',
    {
      schema: {
        operationId: 'keys.create',
        summary: 'Create an API key; the secret is in this answer only',
        tags: ['account'],
        body: CreateKeyBody,
        response: { 201: CreatedApiKey, ...errorResponses() },
      },
    },
    async (request, reply) => {
      const { user } = callerOf(request)
      const key = await services.keys.create(user.id, request.body.name, request.body.expires_at)
      request.log.info({ userId: user.id, keyId: key.id }, 'api key created')
      return reply.status(201).send(key)
    },
  )

  app.get(
    '/api/keys',
    {
      schema: {
        operationId: 'keys.list',
        summary: 'List your API keys (never their secrets)',
        tags: ['account'],
        response: { 200: z.array(ApiKey), ...errorResponses() },
      },
    },
    async (request) => services.keys.list(callerOf(request).user.id),
  )

  app.delete(
    '/api/keys/:id',
    {
      schema: {
        operationId: 'keys.revoke',
        summary: 'Revoke an API key; it stops working at once',
        tags: ['account'],
        params: z.object({ id: z.string() }),
        response: { 204: z.null().describe('Revoked'), ...errorResponses('api_key_not_found') },
      },
    },
    async (request, reply) => {
      const { user } = callerOf(request)
      await services.keys.revoke(user.id, request.params.id)
      request.log.info({ userId: user.id, keyId: request.params.id }, 'api key revoked')
      return reply.status(204).send(null)
    },
  )

  app.get(
    '/api/me',
    {
      schema: {
        operationId: 'account.me',
        summary: 'The calling user, plan, instance limit and usage',
        tags: ['account'],
        response: { 200: Me, ...errorResponses() },
      },
    },
    async (request) => services.accounts.me(callerOf(request).user.id),
  )
}
