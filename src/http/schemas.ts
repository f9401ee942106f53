import { z } from 'zod'
import { type ErrorCode, errorCode } from '../errors.js'

/** The error shape every non-2xx answer has. */
export const ErrorBody = z
  .object({
    message: z.string(),
    code: z.string(),
    status: z.number().int(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'Error' })

/** The error body of one status, described by the codes a route answers with it. */
function errorFor(codes: readonly ErrorCode[]): typeof ErrorBody {
  return ErrorBody.describe(codes.map((c) => `- \`${c}\`: ${errorCode(c).meaning}`).join('\n'))
}

/**
 * The error responses of a route that answers these codes: one per status, its description
 * listing the codes with their meanings, both from the error registry.
 */
export function errorsOf(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>()
  for (const c of new Set(codes)) {
    const status = errorCode(c).status
    byStatus.set(status, [...(byStatus.get(status) ?? []), c])
  }
  const out: Record<number, typeof ErrorBody> = {}
  for (const [status, cs] of [...byStatus].sort((x, y) => x[0] - y[0])) out[status] = errorFor(cs)
  return out
}

/** What any route behind a key can answer: the key refused, invalid input, rate limited. */
export const KEY_ERRORS = [
  'unauthorized',
  'invalid_api_key',
  'api_key_revoked',
  'api_key_expired',
  'user_disabled',
  'validation_failed',
  'rate_limited',
] as const satisfies readonly ErrorCode[]

/** What creating an instance can answer beyond bad input: no subscription or invite, a plan limit, no room. */
export const CREATE_ERRORS = [
  'subscription_required',
  'invite_invalid',
  'invite_used_up',
  'invite_expired',
  'instance_limit_reached',
  'plan_not_found',
  'network_not_allowed',
  'invalid_allowed_host',
  'no_capacity',
  'no_runner',
] as const satisfies readonly ErrorCode[]

/** Error responses a private route can give, for its schema: the key's, and these codes. */
export function errorResponses(...codes: ErrorCode[]) {
  return errorsOf(...KEY_ERRORS, ...codes)
}

export const InstanceParams = z.object({ id: z.string().describe('Instance id (UUID)') })
