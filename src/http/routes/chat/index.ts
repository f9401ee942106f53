import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Services } from '../../../core/services.js'
import { stopAllStreams } from '../../sse.js'
import { chatHistoryRoutes } from './history.js'
import { chatSessionRoutes } from './sessions.js'
import { chatTurnRoutes } from './turns.js'

/** Every chat route: sessions, turns (sync, streamed, abort), messages and events. */
export const chatRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.addHook('preClose', async () => stopAllStreams(app))
  await app.register(chatSessionRoutes, { services })
  await app.register(chatTurnRoutes, { services })
  await app.register(chatHistoryRoutes, { services })
}
