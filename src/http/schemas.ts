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

/** Error responses a private route can give, for its schema. */
export function errorResponses(...statuses: number[]) {
  const out: Record<number, typeof ErrorBody> = { 401: ErrorBody, 422: ErrorBody, 429: ErrorBody }
  for (const s of statuses) out[s] = ErrorBody
  return out
}

export const InstanceParams = z.object({ id: z.string().describe('Instance id (UUID)') })
