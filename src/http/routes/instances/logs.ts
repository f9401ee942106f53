import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { InstanceLogs, LOG_TAIL_MAX_LINES, LogSource } from '../../../core/instance-logs.js'
import { InstanceMetrics } from '../../../core/instance-metrics.js'
import type { Services } from '../../../core/services.js'
import { callerOf } from '../../plugins/auth.js'
import { errorResponses, InstanceParams } from '../../schemas.js'
import { openSse } from '../../sse.js'

const LogsQuery = z.object({
  source: LogSource.default('clawlet').describe(
    'boot: the sandbox output; clawlet: the agent that runs the instance; gateway: OpenClaw; desktop: the desktop',
  ),
  tail: z.coerce
    .number()
    .int()
    .min(0)
    .max(LOG_TAIL_MAX_LINES)
    .default(200)
    .describe(`The last N lines (at most ${LOG_TAIL_MAX_LINES})`),
  follow: z.stringbool().default(false).describe('Then stream appended lines as SSE `lines` events'),
})

const LogStream = z.string().describe('text/event-stream: `lines` events, data {lines, skipped_bytes}')

/** An instance's own logs and resource usage, for its owner. */
export const instanceLogRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/api/instances/:id/logs',
    {
      schema: {
        operationId: 'instances.logs',
        summary: "The last lines of one of the instance's logs, or followed live as SSE",
        description:
          'Read from files on the instance\'s own disk; lines longer than 4096 characters are cut (they end with " [cut]"). With follow=true the answer is an event stream: a first `lines` event with the tail, then one per batch of new lines (at most 256 KiB a look, twice a second; `skipped_bytes` says how much a faster log left out), and a heartbeat.',
        tags: ['instances'],
        params: InstanceParams,
        querystring: LogsQuery,
        response: {
          200: InstanceLogs.or(LogStream),
          ...errorResponses('instance_not_found', 'not_supported'),
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request)
      const { source, tail, follow } = request.query
      if (!follow) return services.instanceLogs.tail(caller, request.params.id, source, tail)
      const stop = new AbortController()
      const batches = services.instanceLogs.follow(caller, request.params.id, source, tail, stop.signal)
      // The first batch before the stream opens, so a 404 is still an ordinary answer.
      const first = await batches.next()
      const sse = openSse(reply)
      sse.onStop(() => stop.abort())
      let id = 0
      try {
        if (!first.done) sse.send(++id, 'lines', first.value)
        for await (const batch of batches) {
          if (sse.stopped) break
          if (!sse.send(++id, 'lines', batch)) await sse.drained()
        }
      } catch {
        // The instance went away (or out of the caller's reach) while followed.
      } finally {
        sse.stop()
      }
      return reply
    },
  )

  app.get(
    '/api/instances/:id/metrics',
    {
      schema: {
        operationId: 'instances.metrics',
        summary: 'CPU, memory, disk, processes and network of the instance right now',
        description:
          'CPU is measured over the time since the previous look (or a 250 ms window on the first); memory excludes page cache the kernel can drop. Values this host cannot measure are null.',
        tags: ['instances'],
        params: InstanceParams,
        response: { 200: InstanceMetrics, ...errorResponses('instance_not_found', 'not_supported') },
      },
    },
    async (request) => services.metrics.get(callerOf(request), request.params.id),
  )
}
