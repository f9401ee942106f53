import { type CodeWithStatus, type ErrorCode, errorCode } from './error-codes.js'

export {
  type CodeWithStatus,
  ERROR_CODES,
  type ErrorCode,
  type ErrorCodeInfo,
  errorCode,
  isErrorCode,
  type LogLevel,
} from './error-codes.js'

export interface AppErrorOptions {
  details?: Record<string, unknown>
  headers?: Record<string, string>
  /** Only where the answer's status is not the code's own: a Fastify 4xx passed on, a failed turn's 502. */
  status?: number
}

/** The one error model: a registered code, its HTTP status and a message fit for a user. */
export class AppError extends Error {
  readonly status: number
  readonly details?: Record<string, unknown>
  readonly headers?: Record<string, string>

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message)
    this.name = 'AppError'
    this.status = options.status ?? errorCode(code).status
    if (options.details) this.details = options.details
    if (options.headers) this.headers = options.headers
  }

  toJSON(): ErrorBody {
    return {
      message: this.message,
      code: this.code,
      status: this.status,
      ...(this.details ? { details: this.details } : {}),
    }
  }
}

/** The wire shape of every non-2xx answer. */
export interface ErrorBody {
  message: string
  code: string
  status: number
  details?: Record<string, unknown>
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError
}

/** Named factories: every error the service can answer is created here. */
export const errors = {
  unauthorized: (message = 'Missing API key. Send "Authorization: Bearer <key>".') =>
    new AppError('unauthorized', message),
  invalidKey: () => new AppError('invalid_api_key', 'The API key is not valid.'),
  revokedKey: () => new AppError('api_key_revoked', 'The API key has been revoked.'),
  expiredKey: () => new AppError('api_key_expired', 'The API key has expired.'),
  userDisabled: () =>
    new AppError(
      'user_disabled',
      'This account has been disabled by an administrator; ask them to enable it again.',
    ),
  forbidden: (message: string, code: CodeWithStatus<403> = 'forbidden') => new AppError(code, message),
  adminOnly: () => new AppError('admin_required', 'This action needs an administrator.'),
  noSubscription: () =>
    new AppError(
      'subscription_required',
      'Creating an instance needs an active subscription or a valid invite code (send "invite_code").',
    ),
  inviteInvalid: () => new AppError('invite_invalid', 'The invite code is unknown.'),
  inviteUsedUp: () => new AppError('invite_used_up', 'The invite code has no uses left.'),
  inviteExpired: () => new AppError('invite_expired', 'The invite code has expired.'),
  instanceLimit: (limit: number, plan: string) =>
    new AppError(
      'instance_limit_reached',
      `Your plan "${plan}" allows ${limit} instance${limit === 1 ? '' : 's'}; delete one or upgrade the plan.`,
      { details: { limit, plan } },
    ),
  noCapacity: () =>
    new AppError(
      'no_capacity',
      'This server has no capacity for another instance right now; try again later.',
    ),
  noRunner: (why: string) =>
    new AppError('no_runner', `No runner can take another instance now: ${why}.`, { details: { why } }),
  runnerUnavailable: (runner: string, reason: string) =>
    new AppError(
      'runner_unavailable',
      `The instance's runner ${runner} cannot be reached: ${reason}; retry shortly.`,
      { details: { runner } },
    ),
  notFound: (message = 'Not found.') => new AppError('not_found', message),
  routeNotFound: (method: string, url: string) =>
    new AppError('route_not_found', `There is no route ${method} ${url}. See GET /api for the API.`),
  instanceNotFound: (id: string) => new AppError('instance_not_found', `Instance ${id} was not found.`),
  keyNotFound: (id: string) => new AppError('api_key_not_found', `API key ${id} was not found.`),
  userNotFound: (email: string) => new AppError('user_not_found', `No user with email ${email}.`),
  planNotFound: (name: string) => new AppError('plan_not_found', `There is no plan named "${name}".`),
  instanceNotReady: (id: string, status: string) =>
    new AppError('instance_not_ready', `Instance ${id} is ${status}, not ready.`, { details: { status } }),
  invalidState: (message: string) => new AppError('invalid_state', message),
  ownAccount: (action: string) =>
    new AppError('own_account', `You cannot ${action} your own account; ask another administrator.`),
  userHasInstances: (email: string, count: number) =>
    new AppError(
      'user_has_instances',
      `${email} still has ${count} instance${count === 1 ? '' : 's'}; delete ${count === 1 ? 'it' : 'them'} first, then the user.`,
      { details: { instances: count } },
    ),
  instanceWaking: (id: string, retryAfterS: number) =>
    new AppError(
      'instance_waking',
      `Instance ${id} is waking up from sleep and is not ready yet; retry in ${retryAfterS} s.`,
      { details: { retry_after_s: retryAfterS }, headers: { 'retry-after': String(retryAfterS) } },
    ),
  networkNotAllowed: (network: string, plan: string | null) =>
    new AppError(
      'network_not_allowed',
      plan
        ? `The plan "${plan}" does not allow network "${network}".`
        : `This instance has no plan, so no network "${network}".`,
      { details: { network, plan } },
    ),
  invalidAllowedHost: (host: string, problem: string) =>
    new AppError('invalid_allowed_host', `"${host}" cannot be an allowed host: ${problem}.`, {
      details: { host, problem },
    }),
  conflict: (message: string, code: CodeWithStatus<409> = 'conflict') => new AppError(code, message),
  validation: (message: string, details?: Record<string, unknown>) =>
    new AppError('validation_failed', message, details ? { details } : {}),
  tooLarge: (message: string, code: CodeWithStatus<413> = 'payload_too_large') => new AppError(code, message),
  bodyTooDeep: (max: number) =>
    new AppError('body_too_deep', `The JSON body nests arrays or objects deeper than ${max} levels.`, {
      details: { max_depth: max },
    }),
  rateLimited: (retryAfterS: number) =>
    new AppError('rate_limited', `Too many requests; retry in ${retryAfterS} s.`, {
      headers: { 'retry-after': String(retryAfterS) },
    }),
  upstreamTimeout: (message: string) => new AppError('upstream_timeout', message),
  instanceUnavailable: (id: string, reason: string) =>
    new AppError('instance_unavailable', `Instance ${id} cannot be reached: ${reason}`),
  notSupported: (what: string) =>
    new AppError('not_supported', `This server's instance driver does not offer ${what}.`),
  internal: () => new AppError('internal_error', 'Something went wrong on the server; it has been logged.'),
  pathNotFound: (path: string) => new AppError('path_not_found', `${path} does not exist.`),
  invalidPath: (message: string) => new AppError('invalid_path', message),
  terminalSessionNotFound: (id: string) =>
    new AppError('terminal_session_not_found', `Terminal session ${id} was not found.`),
  invalidTicket: () =>
    new AppError(
      'invalid_ticket',
      'The WebSocket ticket is unknown, already used, expired or for another instance.',
    ),
  upgradeRequired: () =>
    new AppError(
      'upgrade_required',
      'This endpoint is a WebSocket: connect with an Upgrade: websocket request.',
    ),
  chatSessionNotFound: (id: string) =>
    new AppError('chat_session_not_found', `Chat session ${id} was not found.`),
  turnInProgress: (sessionId: string) =>
    new AppError(
      'turn_in_progress',
      `Session ${sessionId} is already answering a message; wait for it to finish, or abort it (POST .../chat/abort).`,
      { details: { session_id: sessionId } },
    ),
  desktopUnavailable: (reason: string) =>
    new AppError('desktop_unavailable', `The desktop is not available: ${reason}`),
  inboxMessageNotFound: (id: string) =>
    new AppError('inbox_message_not_found', `Inbox message ${id} was not found.`),
  swarmNotFound: (id: string) => new AppError('swarm_not_found', `Swarm ${id} was not found.`),
  channelNotFound: (name: string) =>
    new AppError('channel_not_found', `The instance has no ${name} channel.`),
  channelUnsupported: (name: string, available: readonly string[] = []) =>
    new AppError(
      'channel_unsupported',
      `This server has no "${name}" channel; it offers ${available.join(', ')}.`,
      { details: { available: [...available] } },
    ),
  channelSettingsInvalid: (field: string, message: string) =>
    new AppError('channel_settings_invalid', message, { details: { field } }),
  channelNotRunning: (name: string, why: string) =>
    new AppError('channel_not_running', `The ${name} channel is not running: ${why}.`),
  pairingRequestNotFound: (id: string) =>
    new AppError('pairing_request_not_found', `No pending pairing request ${id}.`),
  pipelineNotFound: (id: string) => new AppError('pipeline_not_found', `Pipeline ${id} was not found.`),
  pipelineRunNotFound: (id: string) =>
    new AppError('pipeline_run_not_found', `Pipeline run ${id} was not found.`),
  webhookNotFound: (id: string) => new AppError('webhook_not_found', `Webhook ${id} was not found.`),
  webhookLimit: (limit: number) =>
    new AppError('webhook_limit_reached', `You have ${limit} webhooks, the most allowed; delete one.`, {
      details: { limit },
    }),
  webhookUrlNotAllowed: (why: string) => new AppError('webhook_url_not_allowed', `The webhook URL ${why}.`),
}
