import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { assertPublicUrl } from '../../broker/egress.js'
import { checkUpstream, ModelCheck } from '../../core/model-check.js'
import type { Services } from '../../core/services.js'
import { errors } from '../../errors.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses } from '../schemas.js'

const TestBody = z
  .object({
    base_url: z
      .url()
      .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
      .optional(),
    model: z.string().min(1).max(200).optional(),
    api_key: z.string().min(1).max(4096).optional(),
  })
  .nullish()

/** "Test connection" for model settings, before or after saving them. */
export const modelTestRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.post(
    '/api/me/model/test',
    {
      schema: {
        operationId: 'me.model.test',
        summary: 'Test a model upstream: the one given, or the one your instances use now',
        description:
          'Calls GET {base_url}/models with the key. Without `api_key`, the saved key is used when `base_url` is the saved one.',
        tags: ['account'],
        body: TestBody,
        response: { 200: ModelCheck, ...errorResponses() },
      },
    },
    async (request) => {
      const { user } = callerOf(request)
      const body = request.body ?? {}
      const current = await services.models.upstreamFor(user.id)
      const baseUrl = body.base_url ?? current?.baseUrl
      const model = body.model ?? current?.model
      if (!baseUrl || !model) throw errors.validation('Give base_url and model; no model is configured yet.')
      const sameUpstream = current && current.baseUrl === baseUrl.replace(/\/+$/, '')
      const apiKey = body.api_key ?? (sameUpstream ? current.apiKey : undefined)
      // A URL other than the operator's own is the user's: public addresses only.
      const operators = current?.source === 'operator' && sameUpstream
      const guarded = !operators && !services.config.broker.modelPrivateUrls
      if (guarded) assertPublicUrl(baseUrl)
      const check = await checkUpstream({ baseUrl, model, apiKey }, { publicOnly: guarded })
      // The operator's URL and model are for administrators' eyes only (see GET /api/me/model).
      if (!operators || user.is_admin) return check
      return {
        ...check,
        message: check.ok
          ? `the server's model answered in ${check.latency_ms} ms`
          : check.model_listed === false
            ? "the server's upstream does not list its model; tell the administrator"
            : `the server's model did not answer (${check.status ? `HTTP ${check.status}` : 'unreachable'}); tell the administrator`,
      }
    },
  )
}
