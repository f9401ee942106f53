import { AppError, type CodeWithStatus, type ErrorCode, isErrorCode } from '../../errors.js'

/**
 * The codes a chat turn can end with that keep their registered status, so that clients can tell
 * apart what they can fix (409: the instance is not ready, or they aborted the turn), what the
 * operator must fix (503: no model configured, agent off or unreachable) and what timed out (504).
 */
const KEEP_STATUS = [
  'aborted',
  'instance_not_ready',
  'instance_stopping',
  'instance_not_found',
  'model_not_configured',
  'agent_disabled',
  'gateway_not_ready',
  'gateway_unavailable',
  'instance_unavailable',
  'server_stopping',
  'server_restarted',
  'upstream_timeout',
] as const satisfies readonly ErrorCode[]
const KEEPS_STATUS: ReadonlySet<string> = new Set(KEEP_STATUS)

/** Failures of the agent, the model or the way to them that a turn reports. */
const FAILED = [
  'model_error',
  'agent_error',
  'gateway_error',
  'upstream_error',
  'upstream_unreachable',
] as const satisfies readonly CodeWithStatus<502>[]

/** The codes a synchronous turn answers, for its route's schema. */
export const TURN_ERROR_CODES = [...KEEP_STATUS, ...FAILED]

/**
 * A failed turn as the error a synchronous `POST /chat` answers. Any other code is a failure of
 * the agent, the model or the way to them (model_error, upstream_error, ...): a 502 whatever the
 * code; one no registry knows is the agent's.
 */
export function turnError(code: string, message: string, details: Record<string, unknown>): AppError {
  if (!isErrorCode(code)) return new AppError('agent_error', message, { details })
  return new AppError(code, message, { details, ...(KEEPS_STATUS.has(code) ? {} : { status: 502 }) })
}
