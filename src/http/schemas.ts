import { z } from 'zod'

/** The error shape every non-2xx answer has. */
export const ErrorBody = z
  .object({
    message: z.string(),
    code: z.string(),
    status: z.number().int(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'Error' })

/** What each error status means, as the OpenAPI document describes it. */
const ERROR_MEANINGS: Record<number, string> = {
  401: 'Missing, unknown, revoked or expired key',
  403: 'Not allowed: no subscription or invite, a plan limit, or a path this caller may not touch',
  404: 'No such instance, session or path, or not yours',
  409: 'Wrong state: the instance is not ready, a turn is in progress, or a file changed',
  413: 'The body or file is too large',
  422: 'Invalid input: details.issues says which field',
  426: 'Needs a WebSocket upgrade',
  429: 'Rate limited: wait Retry-After seconds',
  501: 'Not supported by this server',
  502: 'The agent or model failed',
  503: 'No capacity, or the instance, agent or model is unavailable for now',
  504: 'The agent or model took too long',
}

/** The error body described for one status (a $ref to Error with its own description). */
function errorFor(status: number): typeof ErrorBody {
  return ErrorBody.describe(ERROR_MEANINGS[status] ?? 'Error')
}

/** Error responses a private route can give, for its schema. */
export function errorResponses(...statuses: number[]) {
  const out: Record<number, typeof ErrorBody> = {}
  for (const s of [401, 422, 429, ...statuses]) out[s] = errorFor(s)
  return out
}

export const InstanceParams = z.object({ id: z.string().describe('Instance id (UUID)') })
