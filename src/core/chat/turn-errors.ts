import { AppError } from '../../errors.js'

/**
 * The HTTP status of a failed turn, by its code. Chosen so that clients can tell apart what
 * they can fix (409: the instance is not ready, or they aborted the turn), what the operator
 * must fix (503: no model configured, agent off or unreachable), what timed out (504) and what
 * the model or agent got wrong (502).
 */
const TURN_STATUS: Record<string, number> = {
  aborted: 409,
  instance_not_ready: 409,
  instance_stopping: 409,
  instance_not_found: 404,
  model_not_configured: 503,
  agent_disabled: 503,
  gateway_not_ready: 503,
  gateway_unavailable: 503,
  instance_unavailable: 503,
  server_stopping: 503,
  server_restarted: 503,
  upstream_timeout: 504,
}

/** A failed turn as the error a synchronous `POST /chat` answers. */
export function turnError(code: string, message: string, details: Record<string, unknown>): AppError {
  return new AppError(TURN_STATUS[code] ?? 502, code, message, details)
}
