import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { ModelSettingsInput, ModelSettingsView } from '../../core/model-settings.js'
import type { Services } from '../../core/services.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses } from '../schemas.js'

const Usage = z.object({
  calls: z.number().int(),
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
})

const PutBody = ModelSettingsInput.refine((v) => /^https?:\/\//.test(v.base_url), {
  message: 'base_url must be an http(s) URL',
  path: ['base_url'],
})

/** The caller's own model upstream (OpenAI-compatible) and the tokens their instances used. */
export const modelRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/api/me/model',
    {
      schema: {
        operationId: 'me.model.get',
        summary: 'Which model your instances use (never the key itself)',
        description:
          "`source: operator` means the server's model applies; its `base_url` and `model` are shown to administrators only.",
        tags: ['account'],
        response: { 200: ModelSettingsView, ...errorResponses() },
      },
    },
    async (request) => {
      const { user } = callerOf(request)
      return services.models.view(user.id, { admin: user.is_admin })
    },
  )

  app.put(
    '/api/me/model',
    {
      schema: {
        operationId: 'me.model.put',
        summary: 'Use your own OpenAI-compatible model; the key is stored encrypted',
        tags: ['account'],
        body: PutBody,
        response: { 200: ModelSettingsView, ...errorResponses() },
      },
    },
    async (request) => {
      const { user } = callerOf(request)
      const view = await services.models.put(user.id, request.body, { admin: user.is_admin })
      request.log.info({ userId: user.id }, 'model settings changed')
      return view
    },
  )

  app.delete(
    '/api/me/model',
    {
      schema: {
        operationId: 'me.model.clear',
        summary: "Forget your own model; the operator's applies again",
        tags: ['account'],
        response: { 200: ModelSettingsView, ...errorResponses() },
      },
    },
    async (request) => {
      const { user } = callerOf(request)
      return services.models.clear(user.id, { admin: user.is_admin })
    },
  )

  app.get(
    '/api/me/usage',
    {
      schema: {
        operationId: 'me.usage',
        summary: 'Model tokens used by all your instances',
        tags: ['account'],
        response: { 200: Usage, ...errorResponses() },
      },
    },
    async (request) => services.accounts.modelUsage(callerOf(request).user.id),
  )
}
