import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { NetworkMode } from '../../../config.js'
import { Instance } from '../../../core/instance-types.js'
import type { Services } from '../../../core/services.js'
import { callerOf } from '../../plugins/auth.js'
import { CREATE_ERRORS, errorResponses, InstanceParams } from '../../schemas.js'

/** Checked by the service, so that a bad name gets its own code (invalid_allowed_host). */
const AllowedHostsBody = z.array(z.string().max(300)).max(1000)

const CreateInstanceBody = z
  .object({
    invite_code: z.string().trim().min(1).max(200).optional(),
    name: z.string().trim().min(1).max(100).optional(),
    network: NetworkMode.optional().describe("Absent: the plan's own; more than the plan allows is a 422"),
    allowed_hosts: AllowedHostsBody.optional().describe(
      "Host names an allowlist network reaches (pypi.org, *.pythonhosted.org; at most 64). Absent: the plan's defaults",
    ),
  })
  .nullish()

const UpdateInstanceBody = z.object({
  network: NetworkMode.optional().describe('Applies at the next start; only while the instance is stopped'),
  allowed_hosts: AllowedHostsBody.optional().describe(
    'Replaces the host names an allowlist network reaches (pypi.org, *.pythonhosted.org; at most 64)',
  ),
})

/** List, create, get, change and delete instances. */
export const instanceRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { instances } = services

  app.get(
    '/api/instances',
    {
      schema: {
        operationId: 'instances.list',
        summary: 'List your instances, newest first',
        tags: ['instances'],
        response: { 200: z.array(Instance), ...errorResponses() },
      },
    },
    async (request) => instances.list(callerOf(request)),
  )

  app.post(
    '/api/instances',
    {
      schema: {
        operationId: 'instances.create',
        summary: 'Create an instance (needs an active subscription or an invite code)',
        description:
          'Answers at once with status "provisioning"; poll GET /api/instances/{id} until "ready". 403 without an active subscription or a redeemable invite, 503 when the server is full.',
        tags: ['instances'],
        body: CreateInstanceBody,
        response: { 201: Instance, ...errorResponses(...CREATE_ERRORS) },
      },
    },
    async (request, reply) => {
      const instance = await instances.create(callerOf(request).user, request.body ?? {})
      return reply.status(201).send(instance)
    },
  )

  app.get(
    '/api/instances/:id',
    {
      schema: {
        operationId: 'instances.get',
        summary: 'Get one instance',
        tags: ['instances'],
        params: InstanceParams,
        response: { 200: Instance, ...errorResponses('instance_not_found') },
      },
    },
    async (request) => instances.get(callerOf(request), request.params.id),
  )

  app.patch(
    '/api/instances/:id',
    {
      schema: {
        operationId: 'instances.update',
        summary: "Change a stopped instance's network or its allowlist, within its plan",
        description:
          '409 unless the instance is stopped; 422 for a network its plan does not allow (network_not_allowed) or a host name that is not one (invalid_allowed_host).',
        tags: ['instances'],
        params: InstanceParams,
        body: UpdateInstanceBody,
        response: { 200: Instance, ...errorResponses('instance_not_found', 'invalid_state') },
      },
    },
    async (request) => instances.update(callerOf(request), request.params.id, request.body),
  )

  app.delete(
    '/api/instances/:id',
    {
      schema: {
        operationId: 'instances.delete',
        summary: 'Delete an instance and destroy its workspace',
        tags: ['instances'],
        params: InstanceParams,
        response: { 204: z.null().describe('Deleted'), ...errorResponses('instance_not_found') },
      },
    },
    async (request, reply) => {
      await instances.remove(callerOf(request), request.params.id)
      return reply.status(204).send(null)
    },
  )
}
