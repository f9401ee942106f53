import type { IncomingMessage } from 'node:http'
import type { z } from 'zod'
import { errors } from '../errors.js'
import { readBody } from '../lib/http-body.js'

/** Largest JSON body the clawlet parses (exec stdin included). */
export const JSON_BODY_MAX_BYTES = 64 * 1024 * 1024

/** Reads a JSON request body and parses it against `schema`; 413 past `maxBytes`, else 422. */
export async function readJson<T>(
  req: IncomingMessage,
  schema: z.ZodType<T>,
  maxBytes = JSON_BODY_MAX_BYTES,
): Promise<T> {
  const body = await readBody(req, maxBytes, () =>
    errors.tooLarge(`The request body is larger than ${maxBytes} bytes.`),
  )
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    throw errors.validation('The request body is not valid JSON.')
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`)
    throw errors.validation(`The request body is not valid: ${issues.join('; ')}.`, { issues })
  }
  return parsed.data
}
