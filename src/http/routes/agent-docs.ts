import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Services } from '../../core/services.js'
import { errors } from '../../errors.js'
import { renderAgentGuide, renderLlmsTxt } from '../docs/guides.js'
import { type OpenApiDoc, renderReference } from '../docs/reference.js'
import { SKILL_FILES, type SkillFile, skillArchive, skillFile } from '../docs/skill.js'
import { originOf } from '../origin.js'

const hidden = { config: { public: true }, schema: { hide: true } } as const

/** Documents for agents (quick start, reference, guide) and the skill bundle, public. */
export const agentDocRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const origin = (req: Parameters<typeof originOf>[0]) => originOf(req, services.config.http)

  app.get('/llms.txt', hidden, async (req, reply) =>
    reply.type('text/plain; charset=utf-8').send(renderLlmsTxt(origin(req))),
  )
  app.get('/agent.md', hidden, async (req, reply) =>
    reply.type('text/markdown; charset=utf-8').send(renderAgentGuide(origin(req))),
  )
  app.get('/llms-full.md', hidden, async (req, reply) =>
    reply
      .type('text/markdown; charset=utf-8')
      .send(renderReference(app.swagger() as unknown as OpenApiDoc, origin(req))),
  )

  app.get('/skills/clawport', hidden, async (req, reply) =>
    reply.type('text/markdown; charset=utf-8').send(skillFile('SKILL.md', origin(req))),
  )
  app.get(
    '/skills/clawport/:file',
    { config: { public: true }, schema: { hide: true, params: z.object({ file: z.string() }) } },
    async (req, reply) => {
      const file = req.params.file as SkillFile
      if (!SKILL_FILES.includes(file)) throw errors.notFound(`The skill bundle has no file ${file}.`)
      const type = file.endsWith('.md') ? 'text/markdown' : 'text/javascript'
      return reply.type(`${type}; charset=utf-8`).send(skillFile(file, origin(req)))
    },
  )
  app.get('/skills/clawport.tar.gz', hidden, async (req, reply) =>
    reply
      .type('application/gzip')
      .header('content-disposition', 'attachment; filename="clawport-skill.tar.gz"')
      .send(skillArchive(origin(req))),
  )
}
