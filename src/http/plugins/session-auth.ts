import type { FastifyReply, FastifyRequest } from 'fastify'
import { csrfMatches, sessionErrors, type WebLogin, type WebSessionService } from '../../core/web-sessions.js'
import type { SocketCredential } from './auth.js'

/** The HTTP-only cookie that carries a dashboard sign-in. */
export const SESSION_COOKIE = 'clawport_session'
/** Readable by the page, which echoes it in CSRF_HEADER on every write (double submit). */
export const CSRF_COOKIE = 'clawport_csrf'
export const CSRF_HEADER = 'x-csrf-token'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** Parses a Cookie header; the first value of a repeated name wins. */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq <= 0) continue
    const name = part.slice(0, eq).trim()
    if (name in out) continue
    try {
      out[name] = decodeURIComponent(part.slice(eq + 1).trim())
    } catch {
      // A malformed value is ignored like a missing one.
    }
  }
  return out
}

export function sessionTokenOf(request: FastifyRequest): string | undefined {
  return parseCookies(request.headers.cookie)[SESSION_COOKIE] || undefined
}

/** Whether cookies must be Secure: the page is served over https (directly or per the public URL). */
export function isSecure(request: FastifyRequest, publicUrl?: string): boolean {
  return request.protocol === 'https' || !!publicUrl?.startsWith('https:')
}

/**
 * Refuses cross-site use of the cookie: a browser says where a request comes from with Origin
 * and Sec-Fetch-Site; SameSite=Lax alone still lets top-level navigations and sibling sites in.
 */
export function assertSameSite(request: FastifyRequest, publicUrl?: string): void {
  const site = request.headers['sec-fetch-site']
  if (site && site !== 'same-origin' && site !== 'none') throw sessionErrors.crossSite()
  const origin = request.headers.origin
  if (!origin) return
  const own = `${request.protocol}://${request.host}`
  const pub = publicUrl ? new URL(publicUrl).origin : undefined
  if (origin !== own && origin !== pub) throw sessionErrors.crossSite()
}

function cookie(name: string, value: string, maxAgeS: number, secure: boolean, httpOnly: boolean): string {
  const parts = [`${name}=${encodeURIComponent(value)}`, 'Path=/', `Max-Age=${maxAgeS}`, 'SameSite=Lax']
  if (httpOnly) parts.push('HttpOnly')
  if (secure) parts.push('Secure')
  return parts.join('; ')
}

export function setSessionCookies(reply: FastifyReply, login: WebLogin, secure: boolean): void {
  const maxAge = Math.max(1, Math.floor((Date.parse(login.expiresAt) - Date.now()) / 1000))
  void reply.header('set-cookie', [
    cookie(SESSION_COOKIE, login.token, maxAge, secure, true),
    cookie(CSRF_COOKIE, login.csrf, maxAge, secure, false),
  ])
}

export function clearSessionCookies(reply: FastifyReply, secure: boolean): void {
  void reply.header('set-cookie', [
    cookie(SESSION_COOKIE, '', 0, secure, true),
    cookie(CSRF_COOKIE, '', 0, secure, false),
  ])
}

/**
 * The dashboard's session cookie as a credential, for every private route and the WebSockets.
 * Writes also need the CSRF token; nothing cross-site is accepted. Undefined when there is no
 * cookie or its session is gone, so a ticket can still be tried.
 */
export function sessionCredential(sessions: WebSessionService, publicUrl?: string): SocketCredential {
  return async (request) => {
    const token = sessionTokenOf(request)
    if (!token) return undefined
    assertSameSite(request, publicUrl)
    const caller = await sessions.authenticate(token)
    if (!caller) return undefined
    if (!SAFE_METHODS.has(request.method)) {
      const sent = request.headers[CSRF_HEADER]
      if (!csrfMatches(typeof sent === 'string' ? sent : undefined, caller.csrfHash))
        throw sessionErrors.csrf()
    }
    return { user: caller.user, keyId: caller.keyId }
  }
}
