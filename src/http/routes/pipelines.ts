import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { Pipeline, PipelineCreateBody, PipelineRun } from '../../core/automation/pipeline-types.js'
import type { Services } from '../../core/services.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses, errorsOf } from '../schemas.js'

export const PipelineParams = z.object({ id: z.string().describe('Pipeline id') })
const RunInput = z.record(z.string(), z.unknown()).nullish()

/** Pipelines: stored definitions and their manual and webhook triggers. */
export const pipelineRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { pipelines } = services

  app.post(
    '/api/pipelines',
    {
      schema: {
        operationId: 'pipelines.create',
        summary: 'Store a pipeline',
        description:
          'Stages run in order; a stage is one step or `{parallel: [steps]}`. A step is a `chat` turn, an `exec` or a file `copy`, on an instance or a swarm member; its strings may use `{{steps.<name>.output}}`, `{{input.<key>}}` and `{{run.id}}`. Triggers: POST .../runs, `schedule` (cron, UTC) and, with `webhook: true`, a `webhook_url` carrying its own secret (shown only here).',
        tags: ['pipelines'],
        body: PipelineCreateBody,
        response: { 201: Pipeline, ...errorResponses('instance_not_found') },
      },
    },
    async (req, reply) => reply.code(201).send(await pipelines.create(callerOf(req), req.body)),
  )

  app.get(
    '/api/pipelines',
    {
      schema: {
        operationId: 'pipelines.list',
        summary: 'List your pipelines, newest first',
        tags: ['pipelines'],
        response: { 200: z.array(Pipeline), ...errorResponses() },
      },
    },
    async (req) => pipelines.list(callerOf(req)),
  )

  app.get(
    '/api/pipelines/:id',
    {
      schema: {
        operationId: 'pipelines.get',
        summary: 'A pipeline',
        tags: ['pipelines'],
        params: PipelineParams,
        response: { 200: Pipeline, ...errorResponses('pipeline_not_found') },
      },
    },
    async (req) => pipelines.get(callerOf(req), req.params.id),
  )

  app.put(
    '/api/pipelines/:id',
    {
      schema: {
        operationId: 'pipelines.update',
        summary: "Replace a pipeline's name, steps, schedule and webhook",
        description:
          'The same body as a create. Its runs stay. `webhook: true` keeps a webhook URL it had (a new one is shown only in this answer); without it the webhook is removed. 409 `conflict` while a run is queued or running.',
        tags: ['pipelines'],
        params: PipelineParams,
        body: PipelineCreateBody,
        response: {
          200: Pipeline,
          ...errorResponses('pipeline_not_found', 'instance_not_found', 'conflict'),
        },
      },
    },
    async (req) => pipelines.update(callerOf(req), req.params.id, req.body),
  )

  app.delete(
    '/api/pipelines/:id',
    {
      schema: {
        operationId: 'pipelines.delete',
        summary: 'Delete a pipeline and its runs (running ones are canceled)',
        tags: ['pipelines'],
        params: PipelineParams,
        response: { 204: z.null(), ...errorResponses('pipeline_not_found') },
      },
    },
    async (req, reply) => {
      await pipelines.remove(callerOf(req), req.params.id)
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/api/pipelines/:id/runs',
    {
      schema: {
        operationId: 'pipelines.runs.create',
        summary: 'Start a run',
        description:
          'The body (a JSON object, optional) is the run input, used as {{input.<key>}}. Answers at once with the queued run.',
        tags: ['pipelines'],
        params: PipelineParams,
        body: RunInput,
        response: { 202: PipelineRun, ...errorResponses('pipeline_not_found') },
      },
    },
    async (req, reply) =>
      reply.code(202).send(await pipelines.trigger(callerOf(req), req.params.id, req.body ?? {})),
  )

  app.post(
    '/api/pipelines/:id/webhook/:secret',
    {
      config: { public: true },
      schema: {
        operationId: 'pipelines.webhook',
        summary: "Start a run from the pipeline's webhook URL (no key: the URL holds a secret)",
        tags: ['pipelines'],
        security: [],
        params: PipelineParams.extend({ secret: z.string() }),
        body: RunInput,
        response: {
          202: PipelineRun,
          ...errorsOf('pipeline_not_found', 'validation_failed', 'rate_limited'),
        },
      },
    },
    async (req, reply) =>
      reply
        .code(202)
        // Through an instance's door the caller is that instance, and the run keeps its scope.
        .send(await pipelines.webhook(req.params.id, req.params.secret, req.body ?? {}, req.caller)),
  )
}
