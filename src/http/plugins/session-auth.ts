import type { CookieSerializeOptions } from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { csrfMatches, sessionErrors, type WebLogin, type WebSessionService } from '../../core/web-sessions.js'
import type { SocketCredential } from './auth.js'

/** The HTTP-only cookie that carries a dashboard sign-in. */
export const SESSION_COOKIE = 'clawport_session'
/** Readable by the page, which echoes it in CSRF_HEADER on every write (double submit). */
export const CSRF_COOKIE = 'clawport_csrf'
export const CSRF_HEADER = 'x-csrf-token'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** The sign-in's token, if the request carries the session cookie (parsed by @fastify/cookie). */
export function sessionTokenOf(request: FastifyRequest): string | undefined {
  return request.cookies?.[SESSION_COOKIE] || undefined
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

/** Both cookies live as long as the sign-in; only the CSRF one is readable by the page. */
function cookieOptions(maxAgeS: number, secure: boolean, httpOnly: boolean): CookieSerializeOptions {
  return { path: '/', maxAge: maxAgeS, sameSite: 'lax', httpOnly, secure }
}

export function setSessionCookies(reply: FastifyReply, login: WebLogin, secure: boolean): void {
  const maxAge = Math.max(1, Math.floor((Date.parse(login.expiresAt) - Date.now()) / 1000))
  void reply
    .setCookie(SESSION_COOKIE, login.token, cookieOptions(maxAge, secure, true))
    .setCookie(CSRF_COOKIE, login.csrf, cookieOptions(maxAge, secure, false))
}

export function clearSessionCookies(reply: FastifyReply, secure: boolean): void {
  void reply
    .clearCookie(SESSION_COOKIE, cookieOptions(0, secure, true))
    .clearCookie(CSRF_COOKIE, cookieOptions(0, secure, false))
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
