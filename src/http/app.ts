import cookie from '@fastify/cookie'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import websocket from '@fastify/websocket'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify'
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod'
import { sharedRateCounter } from '../core/rate-counter.js'
import type { Services } from '../core/services.js'
import { errors } from '../errors.js'
import type { Logger } from '../log.js'
import { VERSION } from '../version.js'
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.js'
import { registerAccessLog } from './plugins/access-log.js'
import { registerAudit } from './plugins/audit.js'
import { registerAuth } from './plugins/auth.js'
import { clientErrorHandler, registerBodyTimeouts, serverTimeouts } from './plugins/body-timeout.js'
import { registerErrorHandling, toAppError } from './plugins/errors.js'
import { registerIdleActivity } from './plugins/idle-activity.js'
import { registerInstanceDoor } from './plugins/instance-door.js'
import { registerInstanceRateLimit } from './plugins/instance-rate-limit.js'
import { sessionCredential } from './plugins/session-auth.js'
import { socketCredentials } from './plugins/socket-auth.js'
import { rateLimitStore } from './rate-limit-store.js'
import { adminRoutes } from './routes/admin.js'
import { adminAccountRoutes } from './routes/admin-accounts.js'
import { adminFleetRoutes } from './routes/admin-fleet.js'
import { adminRunnerRoutes } from './routes/admin-runners.js'
import { agentDocRoutes } from './routes/agent-docs.js'
import { auditRoutes } from './routes/audit.js'
import { authRoutes } from './routes/auth.js'
import { chatRoutes } from './routes/chat/index.js'
import { chatCursorRoutes } from './routes/chat-cursor.js'
import { dashboardRoutes } from './routes/dashboard.js'
import { discoveryRoutes } from './routes/discovery.js'
import { execRoutes } from './routes/exec.js'
import { fileRoutes } from './routes/files/index.js'
import { transferRoutes } from './routes/files/transfer.js'
import { inboxRoutes } from './routes/inbox.js'
import { instanceEventRoutes } from './routes/instance-events.js'
import { instanceActionRoutes } from './routes/instances/actions.js'
import { channelRoutes } from './routes/instances/channels.js'
import { instanceRoutes } from './routes/instances/index.js'
import { instanceLogRoutes } from './routes/instances/logs.js'
import { instanceSleepRoutes } from './routes/instances/sleep.js'
import { keyRoutes } from './routes/keys.js'
import { registerMetrics } from './routes/metrics.js'
import { modelRoutes } from './routes/model.js'
import { modelTestRoutes } from './routes/model-test.js'
import { pipelineRunRoutes } from './routes/pipeline-runs.js'
import { pipelineRoutes } from './routes/pipelines.js'
import { desktopRoutes } from './routes/realtime/desktop.js'
import { terminalRoutes } from './routes/realtime/terminal.js'
import { ticketRoutes } from './routes/realtime/tickets.js'
import { swarmRoutes } from './routes/swarms.js'
import { webhookRoutes } from './routes/webhooks.js'
import { serverWithRunnerDoors } from './runner-door.js'
import { endStreamsOnRevoke } from './sse.js'

/** Builds the HTTP app around already-created services; routes only call core services. */
export async function buildApp(services: Services, log: Logger): Promise<FastifyInstance> {
  const config = services.config.http
  const app = Fastify({
    loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: config.bodyLimitBytes,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // registerAccessLog writes one line per request instead: Fastify's own lines carry the
    // full URL, whose query may hold a ticket or token.
    logController: new LogController({ disableRequestLogging: true }),
    // Only the configured proxies' forwarded headers are believed (audit, rate limits by address).
    trustProxy: config.trustProxy.length ? config.trustProxy : false,
    // Slow headers are cut by Node, slow bodies by registerBodyTimeouts; both answer 408.
    http: serverTimeouts(config),
    // Runners' forwarded door calls are answered before the app (see runner-door.ts).
    serverFactory: serverWithRunnerDoors(services, log.child({ component: 'runner-door' })),
    clientErrorHandler,
    // Router-level errors (a malformed URL, an over-long parameter) get the contract's shape too.
    frameworkErrors: (err, _request, reply) => {
      const e = toAppError(err)
      void (reply as FastifyReply).code(e.status).type('application/json').send(e.toJSON())
    },
  })
  // Fastify's own JSON parser (prototype-poisoning safe), but an empty body with a JSON content
  // type (common on DELETE from HTTP libraries) counts as no body rather than bad JSON, and a
  // body nested too deep for the recursive work after parsing is refused before it.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString()
    if (text.trim() === '') return done(null, undefined)
    if (nestsDeeperThan(text)) return done(errors.bodyTooDeep(MAX_JSON_DEPTH), undefined)
    return parseJson(request, text, done)
  })
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  registerErrorHandling(app)
  registerAccessLog(app)
  // Before authentication, so a refused request's trickling body is bounded too.
  registerBodyTimeouts(app, config)

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Clawport API',
        version: VERSION,
        description: 'Drive OpenClaw instances: lifecycle, files, commands, chat, terminal and desktop.',
      },
      servers: [{ url: config.publicUrl ?? '/' }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key: sk_live_...' },
        },
      },
      security: [{ bearerAuth: [] }],
    },
    transform: jsonSchemaTransform,
    // Puts the schemas named with .meta({ id }) under components.schemas, where their $refs point.
    transformObject: jsonSchemaTransformObject,
  })

  // Before the auth hook: its own onRequest hook marks upgrade requests, so a refused upgrade's
  // socket is closed after the error answer.
  await app.register(websocket, {
    options: { maxPayload: 16 * 1024 * 1024, perMessageDeflate: false },
    // Sockets still open when the server closes are told why.
    preClose(done) {
      for (const client of app.websocketServer.clients) client.close(1001, 'server shutting down')
      done()
    },
  })
  registerInstanceDoor(app, services)
  // Unsigned cookies, parsed on request: before the auth hook, which reads the session cookie.
  await app.register(cookie)
  registerAuth(
    app,
    services.keys,
    socketCredentials(services.wsTickets),
    sessionCredential(services.webSessions, config.publicUrl),
  )
  registerAudit(app, services.audit)
  endStreamsOnRevoke(app, services.keys.watch)
  // Per key, and per instance below (in this registration's store too): counted in the store
  // when replicas share PostgreSQL, in this process otherwise.
  const sharedCounter = sharedRateCounter(services)
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: config.rateLimitPerMin,
    timeWindow: 60_000,
    keyGenerator: (req) => req.caller?.keyId ?? req.ip,
    errorResponseBuilder: (_req, ctx) => errors.rateLimited(Math.max(1, Math.ceil(ctx.ttl / 1000))),
    ...(sharedCounter ? { store: rateLimitStore(sharedCounter) } : {}),
  })
  registerInstanceRateLimit(app, config.instanceRateLimitPerMin)
  registerIdleActivity(app, services.sleep.tracker)

  registerMetrics(app, services)
  await app.register(discoveryRoutes, { services })
  await app.register(agentDocRoutes, { services })
  await app.register(keyRoutes, { services })
  await app.register(modelRoutes, { services })
  await app.register(instanceRoutes, { services })
  await app.register(instanceActionRoutes, { services })
  await app.register(instanceSleepRoutes, { services })
  await app.register(channelRoutes, { services })
  await app.register(instanceLogRoutes, { services })
  await app.register(fileRoutes, { services })
  await app.register(transferRoutes, { services })
  await app.register(execRoutes, { services })
  await app.register(chatRoutes, { services })
  await app.register(inboxRoutes, { services })
  await app.register(swarmRoutes, { services })
  await app.register(pipelineRoutes, { services })
  await app.register(pipelineRunRoutes, { services })
  await app.register(terminalRoutes, { services })
  await app.register(desktopRoutes, { services })
  await app.register(ticketRoutes, { services })
  await app.register(adminRoutes, { services })
  await app.register(adminFleetRoutes, { services })
  await app.register(adminRunnerRoutes, { services })
  await app.register(authRoutes, { services })
  await app.register(modelTestRoutes, { services })
  await app.register(adminAccountRoutes, { services })
  await app.register(chatCursorRoutes, { services })
  await app.register(auditRoutes, { services })
  await app.register(instanceEventRoutes, { services })
  await app.register(webhookRoutes, { services })
  // Last: its wildcard answers every GET no other route takes.
  await app.register(dashboardRoutes, { services })
  return app
}
