import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Services } from '../../core/services.js'
import { VERSION } from '../../version.js'
import { originOf } from '../origin.js'

/** The resource paths a client can discover from GET /api. */
export const RESOURCE_PATHS = [
  '/api/instances',
  '/api/instances/{id}',
  '/api/instances/{id}/status',
  '/api/instances/{id}/reboot',
  '/api/instances/{id}/shutdown',
  '/api/instances/{id}/start',
  '/api/instances/{id}/files',
  '/api/instances/{id}/files/read',
  '/api/instances/{id}/files/write',
  '/api/instances/{id}/files/upload',
  '/api/instances/{id}/files/mkdir',
  '/api/instances/{id}/files/download',
  '/api/instances/{id}/files/stat',
  '/api/instances/{id}/files/move',
  '/api/instances/{id}/terminal/exec',
  '/api/instances/{id}/chat',
  '/api/instances/{id}/chat/stream',
  '/api/instances/{id}/chat/sessions',
  '/api/instances/{id}/chat/messages',
  '/api/instances/{id}/chat/events',
  '/api/instances/{id}/chat/abort',
  '/api/instances/{id}/inbox',
  '/api/swarms',
  '/api/swarms/{id}',
  '/api/swarms/{id}/broadcast',
  '/api/pipelines',
  '/api/pipelines/{id}',
  '/api/pipelines/{id}/runs',
  '/api/keys',
  '/api/me',
]

const Discovery = z.object({
  name: z.string(),
  version: z.string(),
  description: z.string(),
  auth: z.object({ type: z.string(), header: z.string(), key_prefix: z.string(), keys_url: z.string() }),
  links: z.record(z.string(), z.string()),
  resources: z.array(z.string()),
})

export const discoveryRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/api',
    {
      config: { public: true },
      schema: {
        operationId: 'discovery.get',
        summary: 'Describe the service: version, auth, documents and resources',
        tags: ['discovery'],
        security: [],
        response: { 200: Discovery },
      },
    },
    async (request) => {
      const origin = originOf(request, services.config.http)
      return {
        name: 'Clawport',
        version: VERSION,
        description:
          'OpenClaw as a Service: create instances, chat with the agent, work with files and commands.',
        auth: {
          type: 'bearer',
          header: 'Authorization: Bearer <key>',
          key_prefix: 'sk_live_',
          keys_url: `${origin}/account`,
        },
        links: {
          docs: `${origin}/docs`,
          llms_txt: `${origin}/llms.txt`,
          llms_full: `${origin}/llms-full.md`,
          agent_md: `${origin}/agent.md`,
          openapi_json: `${origin}/api/openapi.json`,
          openapi_yaml: `${origin}/api/openapi.yaml`,
          skill: `${origin}/skills/clawport/SKILL.md`,
          skill_archive: `${origin}/skills/clawport.tar.gz`,
        },
        resources: RESOURCE_PATHS,
      }
    },
  )

  app.get('/api/openapi.json', { config: { public: true }, schema: { hide: true } }, async () =>
    app.swagger(),
  )
  app.get('/api/openapi.yaml', { config: { public: true }, schema: { hide: true } }, async (_req, reply) =>
    reply.type('application/yaml').send(app.swagger({ yaml: true })),
  )
  app.get('/healthz', { config: { public: true }, schema: { hide: true } }, async () => ({ ok: true }))
}
