import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import {
  BroadcastBody,
  BroadcastOutcome,
  SelfInfo,
  Swarm,
  SwarmCreateBody,
  SwarmScaleBody,
} from '../../core/automation/swarm-types.js'
import type { Services } from '../../core/services.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses } from '../schemas.js'
import { openSse } from '../sse.js'

const SwarmParams = z.object({ id: z.string().describe('Swarm id') })
const EventStream = z.string().describe('text/event-stream')

/** Swarms of instances, their broadcast, and an instance's view of itself. */
export const swarmRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { swarms } = services

  app.post(
    '/api/swarms',
    {
      schema: {
        operationId: 'swarms.create',
        summary: 'Create a named group of instances',
        description:
          'Creates `size` instances (within the plan: 403 `instance_limit_reached` before any is made), each with an optional role and instructions that are sent to its agent once it is ready.',
        tags: ['swarms'],
        body: SwarmCreateBody,
        response: {
          201: Swarm,
          ...errorResponses('subscription_required', 'instance_limit_reached', 'no_capacity', 'no_runner'),
        },
      },
    },
    async (req, reply) => reply.code(201).send(await swarms.create(callerOf(req), req.body)),
  )

  app.get(
    '/api/swarms',
    {
      schema: {
        operationId: 'swarms.list',
        summary: 'List your swarms, newest first',
        tags: ['swarms'],
        response: { 200: z.array(Swarm), ...errorResponses() },
      },
    },
    async (req) => swarms.list(callerOf(req)),
  )

  app.get(
    '/api/swarms/:id',
    {
      schema: {
        operationId: 'swarms.get',
        summary: 'A swarm and its members',
        tags: ['swarms'],
        params: SwarmParams,
        response: { 200: Swarm, ...errorResponses('swarm_not_found') },
      },
    },
    async (req) => swarms.get(callerOf(req), req.params.id),
  )

  app.post(
    '/api/swarms/:id/scale',
    {
      schema: {
        operationId: 'swarms.scale',
        summary: 'Grow or shrink a swarm',
        description:
          'New members are new instances; shrinking deletes the last members and their workspaces.',
        tags: ['swarms'],
        params: SwarmParams,
        body: SwarmScaleBody,
        response: {
          200: Swarm,
          ...errorResponses('subscription_required', 'instance_limit_reached', 'swarm_not_found'),
        },
      },
    },
    async (req) => swarms.scale(callerOf(req), req.params.id, req.body),
  )

  app.delete(
    '/api/swarms/:id',
    {
      schema: {
        operationId: 'swarms.delete',
        summary: "Delete a swarm and its members' instances",
        tags: ['swarms'],
        params: SwarmParams,
        response: { 204: z.null(), ...errorResponses('swarm_not_found') },
      },
    },
    async (req, reply) => {
      await swarms.remove(callerOf(req), req.params.id)
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/api/swarms/:id/broadcast',
    {
      schema: {
        operationId: 'swarms.broadcast',
        summary: 'Send one message to every member and collect the replies',
        description:
          'Each member gets the message in its inbox (durable, correlation_id = broadcast_id). With `Accept: text/event-stream` (or `?stream=true`): a `broadcast` {broadcast_id} event, a `reply` event per member as it answers ({instance_id, message_id, status, reply, error}), then `done` with the aggregate. Otherwise the aggregate as JSON once every member answered or the timeout passed.',
        tags: ['swarms'],
        params: SwarmParams,
        querystring: z.object({ stream: z.coerce.boolean().optional() }),
        body: BroadcastBody,
        response: { 200: BroadcastOutcome.or(EventStream), ...errorResponses('swarm_not_found') },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req)
      const streaming = req.query.stream || (req.headers.accept ?? '').includes('text/event-stream')
      if (!streaming)
        return swarms.broadcast(caller, req.params.id, req.body.message, { timeoutMs: req.body.timeout_ms })
      await swarms.get(caller, req.params.id)
      const sse = openSse(reply)
      let n = 0
      const outcome = swarms.broadcast(caller, req.params.id, req.body.message, {
        timeoutMs: req.body.timeout_ms,
        onResult: (r) => sse.send(++n, 'reply', r),
      })
      try {
        const out = await outcome
        sse.send(++n, 'done', out)
      } catch (err) {
        sse.send(++n, 'error', {
          message: err instanceof Error ? err.message : String(err),
          code: 'broadcast_failed',
        })
      } finally {
        sse.end()
      }
      return reply
    },
  )

  app.get(
    '/api/self',
    {
      schema: {
        operationId: 'self.get',
        summary: 'Inside an instance: itself, its swarm and the instances it can reach',
        description:
          'Answers only on the instance door (CLAWPORT_API_URL inside an instance); 404 elsewhere.',
        tags: ['swarms'],
        response: { 200: SelfInfo, ...errorResponses('not_found') },
      },
    },
    async (req) => swarms.self(callerOf(req)),
  )
}
