import { type AppError, errors } from '../errors.js'
import { isUnstorableText } from '../store/errors.js'

/**
 * A store failure that is the caller's mistake, as the error it is answered with; undefined for
 * any other failure. Here so that the error handler need not know what the database refuses.
 */
export function callerMistakeOf(err: unknown): AppError | undefined {
  if (!isUnstorableText(err)) return undefined
  const message = 'Text in this request contains the NUL character (U+0000), which cannot be stored.'
  return errors.validation(message, { issues: [{ path: '/', message }] })
}
