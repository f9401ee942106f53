import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { Me } from '../../core/accounts.js'
import type { Services } from '../../core/services.js'
import type { WebLogin } from '../../core/web-sessions.js'
import {
  assertSameSite,
  clearSessionCookies,
  isSecure,
  sessionTokenOf,
  setSessionCookies,
} from '../plugins/session-auth.js'
import { errorsOf } from '../schemas.js'

const Password = z.string().min(8, 'must have at least 8 characters').max(1000)

const SessionState = z.object({
  signed_in: z.boolean(),
  user: Me.nullable(),
  setup_required: z.boolean().describe('No administrator has a password yet: show the first-run screen'),
  signup: z.enum(['open', 'off']),
})

const SignedIn = z.object({ user: Me })

/** What signing in, setting up the administrator or signing up can answer. */
const errors401 = errorsOf(
  'invalid_credentials',
  'user_disabled',
  'cross_site',
  'admin_required',
  'signup_closed',
  'invite_invalid',
  'setup_done',
  'user_exists',
  'validation_failed',
  'plan_not_found',
  'rate_limited',
)

/** Dashboard sign-in with email and password; the session is an HTTP-only cookie. */
export const authRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { webSessions, accounts } = services
  const config = services.config.http
  const secure = (req: FastifyRequest) => isSecure(req, config.publicUrl)

  async function signIn(req: FastifyRequest, reply: FastifyReply, login: WebLogin) {
    setSessionCookies(reply, login, secure(req))
    req.log.info({ userId: login.user.id }, 'dashboard sign-in')
    return { user: await accounts.me(login.user.id) }
  }

  app.get(
    '/api/auth/session',
    {
      config: { public: true },
      schema: {
        operationId: 'auth.session',
        summary: 'Whether this browser is signed in, and whether first-run set-up or sign-up is open',
        tags: ['auth'],
        security: [],
        response: { 200: SessionState },
      },
    },
    async (req) => {
      const token = sessionTokenOf(req)
      const caller = token ? await webSessions.authenticate(token) : undefined
      return {
        signed_in: !!caller,
        user: caller ? await accounts.me(caller.user.id) : null,
        setup_required: await webSessions.setupRequired(),
        signup: config.signup,
      }
    },
  )

  app.post(
    '/api/auth/login',
    {
      config: { public: true },
      schema: {
        operationId: 'auth.login',
        summary: 'Sign in with email and password; sets the session cookie',
        description:
          'Sets `clawport_session` (HTTP-only, SameSite=Lax, Secure over https) and `clawport_csrf`, which the page sends back as `X-CSRF-Token` on every write. After a few wrong passwords from one address for one account, further tries from there wait a few seconds, doubling each time (429 `rate_limited` with `Retry-After`); other addresses are not held up.',
        tags: ['auth'],
        security: [],
        body: z.object({ email: z.string().trim().min(1).max(320), password: z.string().min(1).max(1000) }),
        response: { 200: SignedIn, ...errors401 },
      },
    },
    async (req, reply) => {
      assertSameSite(req, config.publicUrl)
      return signIn(req, reply, await webSessions.login(req.body.email, req.body.password, req.ip))
    },
  )

  app.post(
    '/api/auth/logout',
    {
      config: { public: true },
      schema: {
        operationId: 'auth.logout',
        summary: 'Sign out: the session ends on the server and its cookies are cleared',
        tags: ['auth'],
        security: [],
        response: { 204: z.null().describe('Signed out'), ...errorsOf('cross_site', 'csrf_failed') },
      },
    },
    async (req, reply) => {
      assertSameSite(req, config.publicUrl)
      const token = sessionTokenOf(req)
      if (token) await webSessions.logout(token)
      clearSessionCookies(reply, secure(req))
      return reply.status(204).send(null)
    },
  )

  app.post(
    '/api/auth/setup',
    {
      config: { public: true },
      schema: {
        operationId: 'auth.setup',
        summary: "First run: set the administrator's password, proven by the API key printed at first start",
        tags: ['auth'],
        security: [],
        body: z.object({ api_key: z.string().trim().min(1).max(200), password: Password }),
        response: { 200: SignedIn, ...errors401 },
      },
    },
    async (req, reply) => {
      assertSameSite(req, config.publicUrl)
      return signIn(req, reply, await webSessions.completeSetup(req.body.api_key, req.body.password))
    },
  )

  app.post(
    '/api/auth/signup',
    {
      config: { public: true },
      schema: {
        operationId: 'auth.signup',
        summary: 'Create an account (only when the server has CLAWPORT_SIGNUP=open)',
        description: 'An invite code puts the new account on the invite’s plan at once.',
        tags: ['auth'],
        security: [],
        body: z.object({
          email: z.string().trim().min(3).max(320),
          password: Password,
          invite_code: z.string().trim().max(200).optional(),
        }),
        response: { 200: SignedIn, ...errors401 },
      },
    },
    async (req, reply) => {
      assertSameSite(req, config.publicUrl)
      const { email, password, invite_code } = req.body
      return signIn(req, reply, await webSessions.signup(email, password, invite_code || undefined))
    },
  )
}
