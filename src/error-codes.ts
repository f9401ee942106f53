/**
 * Every `code` an error answer can carry, with its HTTP status and what a client should do.
 * The agent documents list this table; a test scans the sources for codes and fails when one
 * is missing here, so the published list does not drift from the code.
 */
export interface ErrorCodeInfo {
  status: number
  meaning: string
}

export const ERROR_CODES: Record<string, ErrorCodeInfo> = {
  // 400-class: the request itself
  invalid_json: { status: 400, meaning: 'The body is not valid JSON (or is empty while saying it is).' },
  bad_request: { status: 400, meaning: 'The request cannot be understood.' },
  body_too_deep: {
    status: 400,
    meaning: 'The JSON body nests arrays or objects deeper than 64 levels (`details.max_depth`).',
  },
  unauthorized: { status: 401, meaning: 'No API key was sent; send `Authorization: Bearer <key>`.' },
  invalid_api_key: { status: 401, meaning: 'The key is unknown.' },
  api_key_revoked: { status: 401, meaning: 'The key was revoked; make a new one at /account.' },
  api_key_expired: { status: 401, meaning: 'The key expired; make a new one at /account.' },
  user_disabled: {
    status: 401,
    meaning: "An administrator disabled the key's or sign-in's user; only an administrator can enable it.",
  },
  invalid_credentials: { status: 401, meaning: 'The email or password is not right (dashboard sign-in).' },
  invalid_ticket: {
    status: 401,
    meaning: 'A WebSocket ticket is unknown, used, expired or for another instance.',
  },
  forbidden: { status: 403, meaning: 'The caller may not do this.' },
  admin_required: { status: 403, meaning: 'Only an administrator may do this.' },
  subscription_required: {
    status: 403,
    meaning: 'Creating an instance needs an active subscription or a valid `invite_code`.',
  },
  invite_invalid: { status: 403, meaning: 'The invite code is unknown.' },
  invite_used_up: { status: 403, meaning: 'The invite code has no uses left.' },
  invite_expired: { status: 403, meaning: 'The invite code has expired.' },
  instance_limit_reached: {
    status: 403,
    meaning: 'The plan allows no more instances: reuse or delete one (`details.limit`, `details.plan`).',
  },
  signup_closed: { status: 403, meaning: 'This server does not take sign-ups; ask its administrator.' },
  csrf_failed: { status: 403, meaning: 'A cookie-authenticated request lacks the X-CSRF-Token header.' },
  cross_site: { status: 403, meaning: "Cookie sign-in only works from the server's own site." },
  permission_denied: { status: 403, meaning: "The instance's user may not touch that path." },
  not_found: { status: 404, meaning: 'Nothing is there.' },
  route_not_found: { status: 404, meaning: 'No such route; see GET /api.' },
  instance_not_found: { status: 404, meaning: 'No such instance, or it is not yours.' },
  api_key_not_found: { status: 404, meaning: 'No such API key of yours.' },
  user_not_found: { status: 404, meaning: 'No user with that email.' },
  path_not_found: { status: 404, meaning: 'The file or folder does not exist.' },
  chat_session_not_found: { status: 404, meaning: 'No such chat session on this instance.' },
  terminal_session_not_found: { status: 404, meaning: 'No such terminal session (it may have ended).' },
  inbox_message_not_found: { status: 404, meaning: 'No such inbox message.' },
  swarm_not_found: { status: 404, meaning: 'No such swarm.' },
  channel_not_found: { status: 404, meaning: 'The instance has no channel of that name; PUT it first.' },
  pairing_request_not_found: {
    status: 404,
    meaning: 'No such pending pairing request: it expired (after 1 hour), was decided, or never was.',
  },
  pipeline_not_found: { status: 404, meaning: 'No such pipeline.' },
  pipeline_run_not_found: { status: 404, meaning: 'No such pipeline run.' },
  webhook_not_found: { status: 404, meaning: 'No such webhook of yours.' },
  instance_not_ready: {
    status: 409,
    meaning: 'The instance is not `ready` (`details.status`); wait, or start it, then retry.',
  },
  instance_stopping: { status: 409, meaning: 'The instance stopped during the turn.' },
  invalid_state: { status: 409, meaning: 'The instance cannot do that in its current status.' },
  runner_has_instances: {
    status: 409,
    meaning: 'The runner still holds instances (their disks are there); delete them before removing it.',
  },
  channel_not_running: {
    status: 409,
    meaning:
      "The channel is not running in the instance's agent (stopped, or added since it started); start or reboot the instance.",
  },
  instance_waking: {
    status: 409,
    meaning:
      'The instance was asleep and its agent is still booting after the request waited; retry after `Retry-After` seconds.',
  },
  conflict: { status: 409, meaning: 'The request conflicts with the current state.' },
  setup_done: { status: 409, meaning: 'The administrator already has a password; sign in instead.' },
  user_exists: { status: 409, meaning: 'A user with that email already exists.' },
  own_account: { status: 409, meaning: 'An administrator cannot disable or delete their own account.' },
  user_has_instances: {
    status: 409,
    meaning: 'The user still has instances (`details.instances`); delete them before the user.',
  },
  turn_in_progress: {
    status: 409,
    meaning: 'The chat session is already answering; wait for it (follow /chat/events) or abort it.',
  },
  webhook_limit_reached: {
    status: 409,
    meaning: 'You have the most webhooks you may (`details.limit`); delete one first.',
  },
  aborted: { status: 409, meaning: 'The turn was aborted; its partial text is kept.' },
  already_exists: { status: 409, meaning: 'The target path already exists.' },
  is_a_directory: { status: 409, meaning: 'The path is a folder where a file was expected.' },
  not_a_directory: { status: 409, meaning: 'The path (or a part of it) is not a folder.' },
  not_a_regular_file: { status: 409, meaning: 'The path is a device, socket or fifo.' },
  directory_not_empty: { status: 409, meaning: 'The folder is not empty; delete it with recursive=true.' },
  upload_aborted: { status: 409, meaning: 'The upload stream ended early; nothing was written.' },
  desktop_off: { status: 409, meaning: 'The desktop is turned off on this server.' },
  too_many_sessions: {
    status: 409,
    meaning: 'The instance has the most terminal sessions it may; close one.',
  },
  payload_too_large: { status: 413, meaning: 'The request body is larger than the server accepts.' },
  file_too_large: {
    status: 413,
    meaning: 'The file is over the size limit (for files/read: use files/download instead).',
  },
  disk_full: { status: 413, meaning: "The instance's disk or quota is full; free space and retry." },
  unsupported_media_type: { status: 415, meaning: 'The body has a content type this route does not take.' },
  validation_failed: {
    status: 422,
    meaning: 'A parameter or body field is invalid (`details.issues` lists them).',
  },
  invalid_path: { status: 422, meaning: 'The path is not valid (too long, a loop, outside the instance).' },
  plan_not_found: { status: 422, meaning: 'There is no plan with that name.' },
  channel_unsupported: {
    status: 422,
    meaning: "This server's OpenClaw has no such channel (`details.available` lists those it has).",
  },
  channel_settings_invalid: {
    status: 422,
    meaning: 'The channel settings do not fit together (`details.field` names the one to change).',
  },
  network_not_allowed: {
    status: 422,
    meaning:
      'The plan (`details.plan`) does not allow that network (`details.network`); ask for a lesser one (public > allowlist > off).',
  },
  invalid_allowed_host: {
    status: 422,
    meaning:
      'An entry of `allowed_hosts` (`details.host`) is not a host name (`details.problem`): `pypi.org` or `*.pythonhosted.org`, at most 64.',
  },
  model_url_not_allowed: {
    status: 422,
    meaning:
      'A model URL you set points at a private, loopback or link-local address; it must be public unless the operator allows private ones.',
  },
  webhook_url_not_allowed: {
    status: 422,
    meaning:
      'A webhook URL points at a private, loopback or link-local address, or is not http(s); it must be public unless the operator allows private ones.',
  },
  request_timeout: {
    status: 408,
    meaning:
      'The request (headers or body) arrived too slowly and the connection was closed; send it at a steady pace.',
  },
  headers_too_large: { status: 431, meaning: 'The request headers are larger than the server accepts.' },
  upgrade_required: {
    status: 426,
    meaning: 'This endpoint is a WebSocket; connect with an Upgrade request.',
  },
  rate_limited: { status: 429, meaning: 'Too many requests; wait `Retry-After` seconds.' },
  // 5xx: the server, the instance or the model
  internal_error: { status: 500, meaning: 'A server bug; it has been logged. Retrying may help.' },
  not_supported: {
    status: 501,
    meaning: "This server's instance driver does not offer it (logs or metrics of another driver).",
  },
  runner_failed: { status: 502, meaning: "The instance's runner failed the request; retry." },
  clawlet_bad_answer: { status: 502, meaning: 'The instance answered something unexpected; retry.' },
  model_error: { status: 502, meaning: 'The model failed the turn.' },
  agent_error: { status: 502, meaning: 'The agent failed the turn inside the instance.' },
  broadcast_failed: { status: 502, meaning: 'A swarm broadcast failed (an `error` event of its stream).' },
  gateway_error: { status: 502, meaning: "The instance's OpenClaw gateway failed the turn." },
  no_capacity: { status: 503, meaning: 'The server has no room for another instance; retry later.' },
  no_runner: {
    status: 503,
    meaning:
      'No runner is healthy, active and has room (memory, instances, labels) for the instance; retry later.',
  },
  control_plane_unreachable: {
    status: 503,
    meaning: 'Inside an instance on a runner: the runner cannot reach the control plane now; retry shortly.',
  },
  runner_unavailable: {
    status: 503,
    meaning: 'The runner holding the instance is out of reach (its instances keep running); retry shortly.',
  },
  instance_unavailable: { status: 503, meaning: 'The instance cannot be reached right now; retry shortly.' },
  instance_resources_exhausted: {
    status: 503,
    meaning:
      'The instance is at its process or memory limit, so a command could not start; retry when it settles.',
  },
  desktop_unavailable: { status: 503, meaning: 'The desktop is not up (yet); retry shortly.' },
  model_not_configured: {
    status: 503,
    meaning: 'No model is set up: the operator sets CLAWPORT_LLM_*, or you PUT /api/me/model.',
  },
  agent_disabled: {
    status: 503,
    meaning: 'This server runs instances without the agent (CLAWPORT_GATEWAY=off).',
  },
  gateway_not_ready: { status: 503, meaning: "The instance's agent is still starting; retry shortly." },
  gateway_unavailable: { status: 503, meaning: "The instance's agent cannot be reached; retry shortly." },
  server_stopping: { status: 503, meaning: 'The server is restarting; retry shortly.' },
  server_restarted: {
    status: 503,
    meaning: 'The server restarted during the turn; its text so far is kept. Send the message again.',
  },
  upstream_timeout: { status: 504, meaning: 'The agent or the model took too long.' },
}
