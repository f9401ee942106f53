import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { isFinished, PipelineRun } from '../../core/automation/pipeline-types.js'
import type { Services } from '../../core/services.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses } from '../schemas.js'
import { openSse } from '../sse.js'
import { PipelineParams } from './pipelines.js'

const RunParams = PipelineParams.extend({ run_id: z.string().describe('Run id') })

/** Runs of a pipeline: list, get, cancel and follow. */
export const pipelineRunRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { pipelines } = services

  app.get(
    '/api/pipelines/:id/runs',
    {
      schema: {
        operationId: 'pipelines.runs.list',
        summary: 'Runs of a pipeline, newest first',
        tags: ['pipelines'],
        params: PipelineParams,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
        response: { 200: z.array(PipelineRun), ...errorResponses('pipeline_not_found') },
      },
    },
    async (req) => pipelines.runs(callerOf(req), req.params.id, req.query.limit),
  )

  app.get(
    '/api/pipelines/:id/runs/:run_id',
    {
      schema: {
        operationId: 'pipelines.runs.get',
        summary: 'A run: its status and every step with status, output, timing, attempts and error',
        tags: ['pipelines'],
        params: RunParams,
        response: { 200: PipelineRun, ...errorResponses('pipeline_not_found', 'pipeline_run_not_found') },
      },
    },
    async (req) => pipelines.run(callerOf(req), req.params.id, req.params.run_id),
  )

  app.post(
    '/api/pipelines/:id/runs/:run_id/cancel',
    {
      schema: {
        operationId: 'pipelines.runs.cancel',
        summary: 'Cancel a run; answers the run once it has stopped',
        tags: ['pipelines'],
        params: RunParams,
        response: { 200: PipelineRun, ...errorResponses('pipeline_not_found', 'pipeline_run_not_found') },
      },
    },
    async (req) => pipelines.cancel(callerOf(req), req.params.id, req.params.run_id),
  )

  app.get(
    '/api/pipelines/:id/runs/:run_id/events',
    {
      schema: {
        operationId: 'pipelines.runs.events',
        summary: "Follow a run's progress as server-sent events",
        description:
          'A `run` event with the whole run first, a `step` event whenever a step moves, a `run` event when the run does, and the stream ends after the run finishes (at once if it already had).',
        tags: ['pipelines'],
        params: RunParams,
        response: {
          200: z.string().describe('text/event-stream'),
          ...errorResponses('pipeline_not_found', 'pipeline_run_not_found'),
        },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req)
      const first = await pipelines.run(caller, req.params.id, req.params.run_id)
      const sse = openSse(reply)
      let n = 0
      // Progress is pushed to us: the stream queues it while the client reads slowly (and cuts
      // off one too far behind), and ends once the last event is written.
      const stop = pipelines.follow(first.id, (e) => {
        if (e.type === 'step') sse.send(++n, 'step', e.step)
        else {
          sse.send(++n, 'run', e.run)
          if (isFinished(e.run.status)) sse.end()
        }
      })
      sse.onStop(stop)
      // Read after subscribing, so nothing between the two is missed.
      const now = await pipelines.run(caller, req.params.id, req.params.run_id)
      sse.send(++n, 'run', now)
      if (isFinished(now.status)) sse.end()
      return reply
    },
  )
}
