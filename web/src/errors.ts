/**
 * Plain sentences for the API's error codes, each saying what to do next. The server's own
 * message is kept where it already speaks to a person (it names the value that was wrong);
 * codes whose message is written for programs (limits in bytes, JSON paths, endpoints) are
 * replaced here.
 */

interface Issue {
  path?: string
  message?: string
}

const PLAIN: Record<string, string> = {
  invalid_json: 'The request could not be read. Reload the page and try again.',
  bad_request: 'The request was not accepted. Check the values and try again.',
  body_too_deep: 'The request is nested too deeply. Simplify it and try again.',
  file_too_large: 'This file is too large to open here. Download it instead.',
  payload_too_large: 'That is more than the server accepts at once. Try something smaller.',
  csrf_failed: 'Your session needs a refresh. Reload the page and try again.',
  cross_site: 'The request came from another site and was refused. Use the dashboard itself.',
  invalid_credentials: 'The email or password is not right. Check them and try again.',
  invalid_api_key: 'That API key is not known. Check it and try again.',
  unauthorized: 'You are signed out. Sign in again.',
  rate_limited: 'Too many requests. Wait a moment and try again.',
  internal_error: 'Something went wrong on the server. Try again; if it keeps failing, tell the operator.',
  request_timeout: 'The request took too long. Try again.',
  upstream_timeout: 'The instance took too long to answer. Try again.',
  instance_unavailable: 'The instance cannot be reached right now. Wait for it to be ready, or restart it.',
  clawlet_bad_answer: 'The instance answered something unexpected. Try again, or reboot it.',
  route_not_found: 'That is not available on this server. Reload the page; it may be out of date.',
  http_error: 'The server did not answer as expected. Try again.',
}

/** "uses" -> "Uses", "/invite_code" -> "Invite code". */
function fieldName(path: string | undefined): string {
  const last = (path ?? '').split('/').filter(Boolean).at(-1) ?? ''
  if (!last || /^\d+$/.test(last)) return 'This value'
  const words = last.replace(/_/g, ' ')
  return words.charAt(0).toUpperCase() + words.slice(1)
}

const n = (s: string) => Number(s).toLocaleString('en-US')

/** One validation issue as a sentence with the allowed range. */
function validationSentence(issue: Issue | undefined): string {
  const field = fieldName(issue?.path)
  const text = issue?.message ?? ''
  let m = /Too big: expected number to be <=?\s*(-?[\d.]+)/.exec(text)
  if (m?.[1]) return `${field} must be at most ${n(m[1])}. Pick a smaller number.`
  m = /Too small: expected number to be >=?\s*(-?[\d.]+)/.exec(text)
  if (m?.[1]) return `${field} must be at least ${n(m[1])}. Pick a larger number.`
  m = /Too big: expected (?:string|array) to have <=?\s*(\d+)/.exec(text)
  if (m?.[1]) return `${field} is too long: at most ${n(m[1])} allowed. Shorten it.`
  m = /Too small: expected (?:string|array) to have >=?\s*(\d+)/.exec(text)
  if (m?.[1]) return `${field} is too short: at least ${n(m[1])} needed.`
  if (/expected .*number|expected int/i.test(text)) return `${field} must be a whole number.`
  if (/required|received undefined/i.test(text)) return `${field} is required.`
  return `${field} is not valid. Check it and try again.`
}

/** The sentence a person sees for an API error. */
export function plainMessage(
  status: number,
  code: string,
  message: string | undefined,
  details?: Record<string, unknown>,
): string {
  if (code === 'validation_failed') {
    const issues = Array.isArray(details?.issues) ? (details.issues as Issue[]) : []
    if (issues.length || !message) return validationSentence(issues[0])
    return message
  }
  const plain = PLAIN[code]
  if (plain) return plain
  if (message) return message
  return status >= 500 ? (PLAIN.internal_error ?? '') : (PLAIN.http_error ?? '')
}

/** The sentence for a chat turn that ended with an error event. */
export function turnErrorMessage(code: string | undefined, message: string | undefined): string {
  const plain = code ? PLAIN[code] : undefined
  return plain ?? message ?? 'The turn failed. Send the message again.'
}
