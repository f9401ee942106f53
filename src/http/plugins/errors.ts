import { validateHeaderName, validateHeaderValue } from 'node:http'
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { callerMistakeOf } from '../../core/store-failures.js'
import { AppError, type ErrorCode, errorCode, errors, isAppError } from '../../errors.js'

/** Fastify's own errors by their code, as ours. */
const FASTIFY_CODES: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['payload_too_large', 'The request body is larger than this server accepts.'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    'unsupported_media_type',
    'The request body has a content type this route does not take.',
  ],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['invalid_json', 'The body is empty but the content type says JSON.'],
  FST_ERR_CTP_INVALID_JSON_BODY: ['invalid_json', 'The request body is not valid JSON.'],
  FST_ERR_BAD_URL: ['bad_url', 'The request URL is malformed.'],
  FST_ERR_MAX_PARAM_LENGTH: ['uri_too_long', 'A path parameter of the request URL is too long.'],
}

/** Maps anything thrown to the contract's {message, code, status}; 5xx are logged, never leaked. */
export function toAppError(err: FastifyError | Error): AppError {
  if (isAppError(err)) return err
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = (err as FastifyError).validationContext ?? 'request'
    const issues = err.validation.map((v) => ({
      path: v.instancePath || '/',
      message: v.message ?? 'is not valid',
    }))
    const first = issues[0]
    return errors.validation(`Invalid ${where}: ${first?.path} ${first?.message}`.trim(), {
      in: where,
      issues,
    })
  }
  const mistake = callerMistakeOf(err)
  if (mistake) return mistake
  const fe = err as FastifyError
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined
  if (known) return new AppError(known[0], known[1])
  if (err instanceof SyntaxError || (fe.statusCode === 400 && /JSON/i.test(err.message))) {
    return new AppError('invalid_json', 'The request body is not valid JSON.')
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppError('bad_request', err.message, { status: fe.statusCode })
  }
  return errors.internal()
}

/**
 * Headers the failed answer had set describe a body that is not sent (a download's name), and
 * one Node refuses would fail the error answer too, leaving Fastify to answer in its own shape.
 */
function dropAnswerHeaders(reply: FastifyReply): void {
  reply.removeHeader('content-disposition')
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    try {
      validateHeaderName(name)
      for (const v of Array.isArray(value) ? value : [value]) validateHeaderValue(name, v as string)
    } catch {
      reply.removeHeader(name)
    }
  }
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const appErr = toAppError(err)
    dropAnswerHeaders(reply)
    // A bug (internal_error: anything but an AppError) is an error with its stack; an answer the
    // service meant to give, even a 5xx like instance_resources_exhausted, is a warning.
    const context = { code: appErr.code, status: appErr.status }
    if (errorCode(appErr.code).logLevel === 'error') request.log.error({ err, ...context }, 'request failed')
    else if (appErr.status >= 500) request.log.warn({ ...context, reason: appErr.message }, 'request failed')
    else request.log.warn({ ...context, reason: appErr.message }, 'request refused')
    if (appErr.headers) void reply.headers(appErr.headers)
    return reply.status(appErr.status).type('application/json').send(appErr.toJSON())
  })
  app.setNotFoundHandler((request, reply) => {
    const e = errors.routeNotFound(request.method, request.url.split('?')[0] ?? '')
    return reply.status(404).send(e.toJSON())
  })
}
