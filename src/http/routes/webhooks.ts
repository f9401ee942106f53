import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { CreatedWebhook, CreateWebhookInput, Webhook, WebhookDelivery } from '../../core/events/types.js'
import type { Services } from '../../core/services.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses } from '../schemas.js'

const WebhookParams = z.object({ id: z.string().describe('Webhook id (UUID)') })

/** The owner's webhooks: where its instances' lifecycle events are sent, signed. */
export const webhookRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { webhooks } = services.events

  app.post(
    '/api/webhooks',
    {
      schema: {
        operationId: 'webhooks.create',
        summary: "Register a webhook for your instances' lifecycle events; its secret is in this answer only",
        description:
          'Each event is POSTed as JSON with X-Clawport-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>, retried with exponential backoff until the receiver answers 2xx. The URL must be public (http or https); redirects are not followed.',
        tags: ['webhooks'],
        body: CreateWebhookInput,
        response: {
          201: CreatedWebhook,
          ...errorResponses('webhook_limit_reached', 'webhook_url_not_allowed'),
        },
      },
    },
    async (req, reply) => {
      const { user } = callerOf(req)
      const hook = await webhooks.create(user.id, req.body)
      req.log.info({ userId: user.id, webhookId: hook.id }, 'webhook created')
      return reply.status(201).send(hook)
    },
  )

  app.get(
    '/api/webhooks',
    {
      schema: {
        operationId: 'webhooks.list',
        summary: 'List your webhooks (never their secrets)',
        tags: ['webhooks'],
        response: { 200: z.array(Webhook), ...errorResponses() },
      },
    },
    async (req) => webhooks.list(callerOf(req).user.id),
  )

  app.delete(
    '/api/webhooks/:id',
    {
      schema: {
        operationId: 'webhooks.delete',
        summary: 'Delete a webhook; nothing more is sent to it',
        tags: ['webhooks'],
        params: WebhookParams,
        response: { 204: z.null().describe('Deleted'), ...errorResponses('webhook_not_found') },
      },
    },
    async (req, reply) => {
      await webhooks.remove(callerOf(req).user.id, req.params.id)
      return reply.status(204).send(null)
    },
  )

  app.get(
    '/api/webhooks/:id/deliveries',
    {
      schema: {
        operationId: 'webhooks.deliveries',
        summary: "A webhook's delivery log, newest first",
        tags: ['webhooks'],
        params: WebhookParams,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
        response: { 200: z.array(WebhookDelivery), ...errorResponses('webhook_not_found') },
      },
    },
    async (req) => webhooks.deliveries(callerOf(req).user.id, req.params.id, req.query.limit),
  )
}
