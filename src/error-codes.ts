/**
 * The error registry: every `code` an error answer can carry, with its HTTP status, what a
 * client should do and how the server logs it. Nothing else writes a code's status or meaning:
 * AppError and BrokerError take theirs from here, the OpenAPI document lists each route's codes
 * from here, and the agent documents print this table.
 */

/** Expected failures (a refusal, an instance or model out of reach) are warnings; bugs errors. */
export type LogLevel = 'warn' | 'error'

export interface ErrorCodeInfo {
  status: number
  meaning: string
  logLevel: LogLevel
}

const expected = <S extends number>(status: S, meaning: string) =>
  ({ status, meaning, logLevel: 'warn' }) as const
const bug = <S extends number>(status: S, meaning: string) =>
  ({ status, meaning, logLevel: 'error' }) as const

export const ERROR_CODES = {
  // 400-class: the request itself
  invalid_json: expected(400, 'The body is not valid JSON (or is empty while saying it is).'),
  bad_request: expected(400, 'The request cannot be understood.'),
  bad_url: expected(400, 'The request URL is malformed.'),
  body_too_deep: expected(
    400,
    'The JSON body nests arrays or objects deeper than 64 levels (`details.max_depth`).',
  ),
  unauthorized: expected(401, 'No API key was sent; send `Authorization: Bearer <key>`.'),
  invalid_api_key: expected(401, 'The key is unknown.'),
  api_key_revoked: expected(401, 'The key was revoked; make a new one at /account.'),
  api_key_expired: expected(401, 'The key expired; make a new one at /account.'),
  user_disabled: expected(
    401,
    "An administrator disabled the key's or sign-in's user; only an administrator can enable it.",
  ),
  invalid_credentials: expected(401, 'The email or password is not right (dashboard sign-in).'),
  invalid_ticket: expected(401, 'A WebSocket ticket is unknown, used, expired or for another instance.'),
  forbidden: expected(403, 'The caller may not do this.'),
  admin_required: expected(403, 'Only an administrator may do this.'),
  subscription_required: expected(
    403,
    'Creating an instance needs an active subscription or a valid `invite_code`.',
  ),
  invite_invalid: expected(403, 'The invite code is unknown.'),
  invite_used_up: expected(403, 'The invite code has no uses left.'),
  invite_expired: expected(403, 'The invite code has expired.'),
  instance_limit_reached: expected(
    403,
    'The plan allows no more instances: reuse or delete one (`details.limit`, `details.plan`).',
  ),
  signup_closed: expected(403, 'This server does not take sign-ups; ask its administrator.'),
  csrf_failed: expected(403, 'A cookie-authenticated request lacks the X-CSRF-Token header.'),
  cross_site: expected(403, "Cookie sign-in only works from the server's own site."),
  permission_denied: expected(403, "The instance's user may not touch that path."),
  not_found: expected(404, 'Nothing is there.'),
  route_not_found: expected(404, 'No such route; see GET /api.'),
  instance_not_found: expected(404, 'No such instance, or it is not yours.'),
  api_key_not_found: expected(404, 'No such API key of yours.'),
  user_not_found: expected(404, 'No user with that email.'),
  path_not_found: expected(404, 'The file or folder does not exist.'),
  chat_session_not_found: expected(404, 'No such chat session on this instance.'),
  terminal_session_not_found: expected(404, 'No such terminal session (it may have ended).'),
  inbox_message_not_found: expected(404, 'No such inbox message.'),
  swarm_not_found: expected(404, 'No such swarm.'),
  channel_not_found: expected(404, 'The instance has no channel of that name; PUT it first.'),
  pairing_request_not_found: expected(
    404,
    'No such pending pairing request: it expired (after 1 hour), was decided, or never was.',
  ),
  pipeline_not_found: expected(404, 'No such pipeline.'),
  pipeline_run_not_found: expected(404, 'No such pipeline run.'),
  webhook_not_found: expected(404, 'No such webhook of yours.'),
  instance_not_ready: expected(
    409,
    'The instance is not `ready` (`details.status`); wait, or start it, then retry.',
  ),
  instance_stopping: expected(409, 'The instance stopped during the turn.'),
  invalid_state: expected(409, 'The instance cannot do that in its current status.'),
  runner_has_instances: expected(
    409,
    'The runner still holds instances (their disks are there); delete them before removing it.',
  ),
  channel_not_running: expected(
    409,
    "The channel is not running in the instance's agent (stopped, or added since it started); start or reboot the instance.",
  ),
  instance_waking: expected(
    409,
    'The instance was asleep and its agent is still booting after the request waited; retry after `Retry-After` seconds.',
  ),
  conflict: expected(409, 'The request conflicts with the current state.'),
  setup_done: expected(409, 'The administrator already has a password; sign in instead.'),
  user_exists: expected(409, 'A user with that email already exists.'),
  own_account: expected(409, 'An administrator cannot disable or delete their own account.'),
  user_has_instances: expected(
    409,
    'The user still has instances (`details.instances`); delete them before the user.',
  ),
  turn_in_progress: expected(
    409,
    'The chat session is already answering; wait for it (follow /chat/events) or abort it.',
  ),
  webhook_limit_reached: expected(
    409,
    'You have the most webhooks you may (`details.limit`); delete one first.',
  ),
  aborted: expected(409, 'The turn was aborted; its partial text is kept.'),
  already_exists: expected(409, 'The target path already exists.'),
  is_a_directory: expected(409, 'The path is a folder where a file was expected.'),
  not_a_directory: expected(409, 'The path (or a part of it) is not a folder.'),
  not_a_regular_file: expected(409, 'The path is a device, socket or fifo.'),
  directory_not_empty: expected(409, 'The folder is not empty; delete it with recursive=true.'),
  upload_aborted: expected(409, 'The upload stream ended early; nothing was written.'),
  desktop_off: expected(409, 'The desktop is turned off on this server.'),
  too_many_sessions: expected(409, 'The instance has the most terminal sessions it may; close one.'),
  payload_too_large: expected(413, 'The request body is larger than the server accepts.'),
  file_too_large: expected(
    413,
    'The file is over the size limit (for files/read: use files/download instead).',
  ),
  disk_full: expected(413, "The instance's disk or quota is full; free space and retry."),
  uri_too_long: expected(414, 'A path parameter of the request URL is too long.'),
  unsupported_media_type: expected(415, 'The body has a content type this route does not take.'),
  validation_failed: expected(422, 'A parameter or body field is invalid (`details.issues` lists them).'),
  invalid_path: expected(422, 'The path is not valid (too long, a loop, outside the instance).'),
  plan_not_found: expected(422, 'There is no plan with that name.'),
  channel_unsupported: expected(
    422,
    "This server's OpenClaw has no such channel (`details.available` lists those it has).",
  ),
  channel_settings_invalid: expected(
    422,
    'The channel settings do not fit together (`details.field` names the one to change).',
  ),
  network_not_allowed: expected(
    422,
    'The plan (`details.plan`) does not allow that network (`details.network`); ask for a lesser one (public > allowlist > off).',
  ),
  invalid_allowed_host: expected(
    422,
    'An entry of `allowed_hosts` (`details.host`) is not a host name (`details.problem`): `pypi.org` or `*.pythonhosted.org`, at most 64.',
  ),
  model_url_not_allowed: expected(
    422,
    'A model URL you set points at a private, loopback or link-local address; it must be public unless the operator allows private ones.',
  ),
  webhook_url_not_allowed: expected(
    422,
    'A webhook URL points at a private, loopback or link-local address, or is not http(s); it must be public unless the operator allows private ones.',
  ),
  request_timeout: expected(
    408,
    'The request (headers or body) arrived too slowly and the connection was closed; send it at a steady pace.',
  ),
  headers_too_large: expected(431, 'The request headers are larger than the server accepts.'),
  upgrade_required: expected(426, 'This endpoint is a WebSocket; connect with an Upgrade request.'),
  rate_limited: expected(429, 'Too many requests; wait `Retry-After` seconds.'),
  // 5xx: the server, the instance or the model
  internal_error: bug(500, 'A server bug; it has been logged. Retrying may help.'),
  not_supported: expected(
    501,
    "This server's instance driver does not offer it (logs or metrics of another driver).",
  ),
  runner_failed: expected(502, "The instance's runner failed the request; retry."),
  clawlet_bad_answer: expected(502, 'The instance answered something unexpected; retry.'),
  model_error: expected(502, 'The model failed the turn.'),
  agent_error: expected(502, 'The agent failed the turn inside the instance.'),
  broadcast_failed: expected(502, 'A swarm broadcast failed (an `error` event of its stream).'),
  gateway_error: expected(502, "The instance's OpenClaw gateway failed the turn."),
  no_capacity: expected(503, 'The server has no room for another instance; retry later.'),
  no_runner: expected(
    503,
    'No runner is healthy, active and has room (memory, instances, labels) for the instance; retry later.',
  ),
  control_plane_unreachable: expected(
    503,
    'Inside an instance on a runner: the runner cannot reach the control plane now; retry shortly.',
  ),
  runner_unavailable: expected(
    503,
    'The runner holding the instance is out of reach (its instances keep running); retry shortly.',
  ),
  instance_unavailable: expected(503, 'The instance cannot be reached right now; retry shortly.'),
  instance_resources_exhausted: expected(
    503,
    'The instance is at its process or memory limit, so a command could not start; retry when it settles.',
  ),
  desktop_unavailable: expected(503, 'The desktop is not up (yet); retry shortly.'),
  model_not_configured: expected(
    503,
    'No model is set up: the operator sets CLAWPORT_LLM_*, or you PUT /api/me/model.',
  ),
  agent_disabled: expected(503, 'This server runs instances without the agent (CLAWPORT_GATEWAY=off).'),
  gateway_not_ready: expected(503, "The instance's agent is still starting; retry shortly."),
  gateway_unavailable: expected(503, "The instance's agent cannot be reached; retry shortly."),
  server_stopping: expected(503, 'The server is restarting; retry shortly.'),
  server_restarted: expected(
    503,
    'The server restarted during the turn; its text so far is kept. Send the message again.',
  ),
  upstream_timeout: expected(504, 'The agent or the model took too long.'),
  // The model broker's answers: to the agent in an instance, and as the end of a turn
  invalid_request: expected(
    400,
    "The model broker got a request that is not a JSON object (only an instance's agent calls it).",
  ),
  broker_error: bug(500, 'A bug of the model broker; it has been logged.'),
  upstream_error: expected(
    502,
    'The model answered an error (the broker passes on its 4xx status) or broke off; see the message.',
  ),
  upstream_unreachable: expected(
    502,
    'The model cannot be reached from the server; check its URL, or retry.',
  ),
  embedding_model_not_configured: expected(
    503,
    'No embedding model is set up (memory search uses keywords): the operator sets CLAWPORT_EMBEDDING_MODEL, or you add `embedding_model` to PUT /api/me/model.',
  ),
} as const satisfies Record<string, ErrorCodeInfo>

export type ErrorCode = keyof typeof ERROR_CODES

/** The codes registered with HTTP status S. */
export type CodeWithStatus<S extends number> = {
  [C in ErrorCode]: (typeof ERROR_CODES)[C]['status'] extends S ? C : never
}[ErrorCode]

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code)
}

/** The registered entry of a code. */
export function errorCode(code: ErrorCode): ErrorCodeInfo {
  return ERROR_CODES[code]
}
