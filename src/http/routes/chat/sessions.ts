import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { ChatSession } from '../../../core/chat/types.js'
import type { Services } from '../../../core/services.js'
import { callerOf } from '../../plugins/auth.js'
import { errorResponses, InstanceParams } from '../../schemas.js'
import { CreateSessionBody } from './schemas.js'

/** List and create an instance's chat sessions. */
export const chatSessionRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/api/instances/:id/chat/sessions',
    {
      schema: {
        operationId: 'chat.sessions.list',
        summary: 'List chat sessions, most recently active first',
        tags: ['chat'],
        params: InstanceParams,
        response: { 200: z.array(ChatSession), ...errorResponses('instance_not_found') },
      },
    },
    async (req) => services.chat.listSessions(callerOf(req), req.params.id),
  )

  app.post(
    '/api/instances/:id/chat/sessions',
    {
      schema: {
        operationId: 'chat.sessions.create',
        summary: 'Create a chat session',
        tags: ['chat'],
        params: InstanceParams,
        body: CreateSessionBody,
        response: { 201: ChatSession, ...errorResponses('instance_not_found') },
      },
    },
    async (req, reply) => {
      const session = await services.chat.createSession(callerOf(req), req.params.id, {
        ...(req.body?.title ? { title: req.body.title } : {}),
      })
      return reply.status(201).send(session)
    },
  )
}
