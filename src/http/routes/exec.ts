import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Services } from '../../core/services.js'
import { ExecRequest, ExecResult } from '../../wire/clawlet.js'
import { callerOf } from '../plugins/auth.js'
import { errorResponses, InstanceParams } from '../schemas.js'

/** One-shot commands in an instance. */
export const execRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.post(
    '/api/instances/:id/terminal/exec',
    {
      schema: {
        operationId: 'terminal.exec',
        summary: 'Run a shell command and return its output',
        description:
          'Runs `/bin/sh -c command` in /workspace (or cwd). A command past timeout_ms is killed with its whole process group and answered with timed_out: true.',
        tags: ['terminal'],
        params: InstanceParams,
        body: ExecRequest,
        response: {
          200: ExecResult,
          ...errorResponses(
            'instance_not_found',
            'instance_not_ready',
            'instance_waking',
            'not_a_directory',
            'instance_unavailable',
            'runner_unavailable',
            'instance_resources_exhausted',
          ),
        },
      },
    },
    async (req) => services.workspace.exec(callerOf(req), req.params.id, req.body),
  )
}
