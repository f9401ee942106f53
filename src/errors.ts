/** The one error model: a stable code, an HTTP status and a message fit for a user. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message)
    this.name = 'AppError'
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
    new AppError(401, 'unauthorized', message),
  invalidKey: () => new AppError(401, 'invalid_api_key', 'The API key is not valid.'),
  revokedKey: () => new AppError(401, 'api_key_revoked', 'The API key has been revoked.'),
  expiredKey: () => new AppError(401, 'api_key_expired', 'The API key has expired.'),
  userDisabled: () =>
    new AppError(
      401,
      'user_disabled',
      'This account has been disabled by an administrator; ask them to enable it again.',
    ),
  forbidden: (message: string, code = 'forbidden') => new AppError(403, code, message),
  adminOnly: () => new AppError(403, 'admin_required', 'This action needs an administrator.'),
  noSubscription: () =>
    new AppError(
      403,
      'subscription_required',
      'Creating an instance needs an active subscription or a valid invite code (send "invite_code").',
    ),
  inviteInvalid: () => new AppError(403, 'invite_invalid', 'The invite code is unknown.'),
  inviteUsedUp: () => new AppError(403, 'invite_used_up', 'The invite code has no uses left.'),
  inviteExpired: () => new AppError(403, 'invite_expired', 'The invite code has expired.'),
  instanceLimit: (limit: number, plan: string) =>
    new AppError(
      403,
      'instance_limit_reached',
      `Your plan "${plan}" allows ${limit} instance${limit === 1 ? '' : 's'}; delete one or upgrade the plan.`,
      { limit, plan },
    ),
  noCapacity: () =>
    new AppError(
      503,
      'no_capacity',
      'This server has no capacity for another instance right now; try again later.',
    ),
  noRunner: (why: string) =>
    new AppError(503, 'no_runner', `No runner can take another instance now: ${why}.`, { why }),
  runnerUnavailable: (runner: string, reason: string) =>
    new AppError(
      503,
      'runner_unavailable',
      `The instance's runner ${runner} cannot be reached: ${reason}; retry shortly.`,
      {
        runner,
      },
    ),
  notFound: (message = 'Not found.') => new AppError(404, 'not_found', message),
  routeNotFound: (method: string, url: string) =>
    new AppError(404, 'route_not_found', `There is no route ${method} ${url}. See GET /api for the API.`),
  instanceNotFound: (id: string) => new AppError(404, 'instance_not_found', `Instance ${id} was not found.`),
  keyNotFound: (id: string) => new AppError(404, 'api_key_not_found', `API key ${id} was not found.`),
  userNotFound: (email: string) => new AppError(404, 'user_not_found', `No user with email ${email}.`),
  planNotFound: (name: string) => new AppError(422, 'plan_not_found', `There is no plan named "${name}".`),
  instanceNotReady: (id: string, status: string) =>
    new AppError(409, 'instance_not_ready', `Instance ${id} is ${status}, not ready.`, { status }),
  invalidState: (message: string) => new AppError(409, 'invalid_state', message),
  ownAccount: (action: string) =>
    new AppError(409, 'own_account', `You cannot ${action} your own account; ask another administrator.`),
  userHasInstances: (email: string, count: number) =>
    new AppError(
      409,
      'user_has_instances',
      `${email} still has ${count} instance${count === 1 ? '' : 's'}; delete ${count === 1 ? 'it' : 'them'} first, then the user.`,
      { instances: count },
    ),
  instanceWaking: (id: string, retryAfterS: number) =>
    new AppError(
      409,
      'instance_waking',
      `Instance ${id} is waking up from sleep and is not ready yet; retry in ${retryAfterS} s.`,
      { retry_after_s: retryAfterS },
      { 'retry-after': String(retryAfterS) },
    ),
  networkNotAllowed: (network: string, plan: string | null) =>
    new AppError(
      422,
      'network_not_allowed',
      plan
        ? `The plan "${plan}" does not allow network "${network}".`
        : `This instance has no plan, so no network "${network}".`,
      { network, plan },
    ),
  invalidAllowedHost: (host: string, problem: string) =>
    new AppError(422, 'invalid_allowed_host', `"${host}" cannot be an allowed host: ${problem}.`, {
      host,
      problem,
    }),
  conflict: (message: string, code = 'conflict') => new AppError(409, code, message),
  validation: (message: string, details?: Record<string, unknown>) =>
    new AppError(422, 'validation_failed', message, details),
  tooLarge: (message: string, code = 'payload_too_large') => new AppError(413, code, message),
  bodyTooDeep: (max: number) =>
    new AppError(400, 'body_too_deep', `The JSON body nests arrays or objects deeper than ${max} levels.`, {
      max_depth: max,
    }),
  rateLimited: (retryAfterS: number) =>
    new AppError(429, 'rate_limited', `Too many requests; retry in ${retryAfterS} s.`, undefined, {
      'retry-after': String(retryAfterS),
    }),
  upstreamTimeout: (message: string) => new AppError(504, 'upstream_timeout', message),
  instanceUnavailable: (id: string, reason: string) =>
    new AppError(503, 'instance_unavailable', `Instance ${id} cannot be reached: ${reason}`),
  notSupported: (what: string) =>
    new AppError(501, 'not_supported', `This server's instance driver does not offer ${what}.`),
  internal: () =>
    new AppError(500, 'internal_error', 'Something went wrong on the server; it has been logged.'),
  pathNotFound: (path: string) => new AppError(404, 'path_not_found', `${path} does not exist.`),
  invalidPath: (message: string) => new AppError(422, 'invalid_path', message),
  terminalSessionNotFound: (id: string) =>
    new AppError(404, 'terminal_session_not_found', `Terminal session ${id} was not found.`),
  invalidTicket: () =>
    new AppError(
      401,
      'invalid_ticket',
      'The WebSocket ticket is unknown, already used, expired or for another instance.',
    ),
  upgradeRequired: () =>
    new AppError(
      426,
      'upgrade_required',
      'This endpoint is a WebSocket: connect with an Upgrade: websocket request.',
    ),
  chatSessionNotFound: (id: string) =>
    new AppError(404, 'chat_session_not_found', `Chat session ${id} was not found.`),
  turnInProgress: (sessionId: string) =>
    new AppError(
      409,
      'turn_in_progress',
      `Session ${sessionId} is already answering a message; wait for it to finish, or abort it (POST .../chat/abort).`,
      { session_id: sessionId },
    ),
  desktopUnavailable: (reason: string) =>
    new AppError(503, 'desktop_unavailable', `The desktop is not available: ${reason}`),
  inboxMessageNotFound: (id: string) =>
    new AppError(404, 'inbox_message_not_found', `Inbox message ${id} was not found.`),
  swarmNotFound: (id: string) => new AppError(404, 'swarm_not_found', `Swarm ${id} was not found.`),
  channelNotFound: (name: string) =>
    new AppError(404, 'channel_not_found', `The instance has no ${name} channel.`),
  channelUnsupported: (name: string, available: readonly string[] = []) =>
    new AppError(
      422,
      'channel_unsupported',
      `This server has no "${name}" channel; it offers ${available.join(', ')}.`,
      { available: [...available] },
    ),
  channelSettingsInvalid: (field: string, message: string) =>
    new AppError(422, 'channel_settings_invalid', message, { field }),
  channelNotRunning: (name: string, why: string) =>
    new AppError(409, 'channel_not_running', `The ${name} channel is not running: ${why}.`),
  pairingRequestNotFound: (id: string) =>
    new AppError(404, 'pairing_request_not_found', `No pending pairing request ${id}.`),
  pipelineNotFound: (id: string) => new AppError(404, 'pipeline_not_found', `Pipeline ${id} was not found.`),
  pipelineRunNotFound: (id: string) =>
    new AppError(404, 'pipeline_run_not_found', `Pipeline run ${id} was not found.`),
  webhookNotFound: (id: string) => new AppError(404, 'webhook_not_found', `Webhook ${id} was not found.`),
  webhookLimit: (limit: number) =>
    new AppError(409, 'webhook_limit_reached', `You have ${limit} webhooks, the most allowed; delete one.`, {
      limit,
    }),
  webhookUrlNotAllowed: (why: string) =>
    new AppError(422, 'webhook_url_not_allowed', `The webhook URL ${why}.`),
}
