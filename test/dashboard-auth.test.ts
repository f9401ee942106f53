import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BOOTSTRAP_EMAIL, bootstrapAdmin } from '../src/cli/bootstrap.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'

const ORIGIN = 'http://localhost:80'

/** A browser-like client: keeps the cookies it is given, sends them back. */
class Browser {
  cookies = new Map<string, string>()
  constructor(private readonly t: InProcess) {}

  get csrf(): string {
    return this.cookies.get('clawport_csrf') ?? ''
  }

  async req(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ')
    const res = await this.t.app.inject({
      method: method as 'GET',
      url,
      headers: { host: 'localhost:80', ...(cookie ? { cookie } : {}), ...headers },
      ...(body !== undefined ? { payload: body as object } : {}),
    })
    const set = res.headers['set-cookie']
    for (const c of Array.isArray(set) ? set : set ? [set] : []) {
      const [pair] = c.split(';')
      const [name, value] = (pair as string).split('=') as [string, string]
      if (/Max-Age=0/.test(c)) this.cookies.delete(name)
      else this.cookies.set(name, decodeURIComponent(value))
    }
    const json = String(res.headers['content-type'] ?? '').includes('json') && res.body
    return { status: res.statusCode, body: json ? res.json() : res.body, headers: res.headers }
  }

  write(method: string, url: string, body?: unknown) {
    return this.req(method, url, body, { 'x-csrf-token': this.csrf, origin: ORIGIN })
  }
}

describe('dashboard sign-in: cookie sessions, CSRF, first run, sign-up, admin pages', () => {
  let t: InProcess
  let adminKey: string
  let webDir: string

  beforeAll(async () => {
    webDir = fs.mkdtempSync(path.join(fs.mkdtempSync('/tmp/clawport-web-'), 'dist'))
    fs.mkdirSync(path.join(webDir, 'assets'))
    fs.writeFileSync(
      path.join(webDir, 'index.html'),
      '<!doctype html><title>Clawport</title><div id="root"></div>',
    )
    fs.writeFileSync(path.join(webDir, 'assets', 'app-abc123.js'), 'console.log(1)')
    t = await inProcess({ ...TEST_ENV, CLAWPORT_SIGNUP: 'open', CLAWPORT_WEB_DIR: webDir })
    adminKey = (await bootstrapAdmin(t.services))?.key as string
  })
  afterAll(async () => {
    await t?.close()
    fs.rmSync(path.dirname(webDir), { recursive: true, force: true })
  })

  it('starts with the first-run screen, set once with the first-start key', async () => {
    const b = new Browser(t)
    expect((await b.req('GET', '/api/auth/session')).body).toMatchObject({
      signed_in: false,
      setup_required: true,
      signup: 'open',
    })
    const wrong = await b.req('POST', '/api/auth/setup', { api_key: 'sk_live_nope', password: 'longenough' })
    expect(wrong.status).toBe(401)
    const ok = await b.req('POST', '/api/auth/setup', { api_key: adminKey, password: 'admin-password' })
    expect(ok.status).toBe(200)
    expect(ok.body.user).toMatchObject({ email: BOOTSTRAP_EMAIL, is_admin: true })
    const again = await new Browser(t).req('POST', '/api/auth/setup', {
      api_key: adminKey,
      password: 'another-one',
    })
    expect(again.status).toBe(409)
    expect(again.body.code).toBe('setup_done')
    expect((await b.req('GET', '/api/auth/session')).body).toMatchObject({
      signed_in: true,
      setup_required: false,
    })
  })

  it('signs in with an HTTP-only SameSite=Lax cookie and a readable CSRF cookie', async () => {
    const b = new Browser(t)
    const bad = await b.req('POST', '/api/auth/login', { email: BOOTSTRAP_EMAIL, password: 'wrong-password' })
    expect(bad.status).toBe(401)
    expect(bad.body.code).toBe('invalid_credentials')
    const res = await b.req('POST', '/api/auth/login', { email: BOOTSTRAP_EMAIL, password: 'admin-password' })
    expect(res.status).toBe(200)
    const cookies = res.headers['set-cookie'] as string[]
    const session = cookies.find((c) => c.startsWith('clawport_session=')) as string
    expect(session).toMatch(/HttpOnly/)
    expect(session).toMatch(/SameSite=Lax/)
    expect(session).not.toMatch(/Secure/)
    expect(cookies.find((c) => c.startsWith('clawport_csrf='))).not.toMatch(/HttpOnly/)
    // Only a hash of the cookie is stored.
    const token = b.cookies.get('clawport_session') as string
    expect(await t.services.store.webSessions.byTokenHash(token)).toBeUndefined()
    expect((await b.req('GET', '/api/me')).body.email).toBe(BOOTSTRAP_EMAIL)
  })

  it('needs the CSRF token for writes and refuses cross-site use', async () => {
    const b = new Browser(t)
    await b.req('POST', '/api/auth/login', { email: BOOTSTRAP_EMAIL, password: 'admin-password' })
    const noToken = await b.req('POST', '/api/keys', { name: 'x' })
    expect(noToken.status).toBe(403)
    expect(noToken.body.code).toBe('csrf_failed')
    const wrongToken = await b.req('POST', '/api/keys', { name: 'x' }, { 'x-csrf-token': 'forged' })
    expect(wrongToken.body.code).toBe('csrf_failed')
    const cross = await b.req(
      'POST',
      '/api/keys',
      { name: 'x' },
      { 'x-csrf-token': b.csrf, origin: 'https://evil.example' },
    )
    expect(cross.status).toBe(403)
    expect(cross.body.code).toBe('cross_site')
    const navigated = await b.req('GET', '/api/keys', undefined, { 'sec-fetch-site': 'cross-site' })
    expect(navigated.body.code).toBe('cross_site')
    const ok = await b.write('POST', '/api/keys', { name: 'from the page' })
    expect(ok.status).toBe(201)
    // Bearer keys keep working without any CSRF token, and win over a cookie.
    const bearer = await t.inject('GET', '/api/me', ok.body.key)
    expect(bearer.status).toBe(200)
    const loginCross = await new Browser(t).req(
      'POST',
      '/api/auth/login',
      { email: BOOTSTRAP_EMAIL, password: 'admin-password' },
      { origin: 'https://evil.example' },
    )
    expect(loginCross.status).toBe(403)
  })

  it('signs out: the session ends on the server and the cookies are cleared', async () => {
    const b = new Browser(t)
    await b.req('POST', '/api/auth/login', { email: BOOTSTRAP_EMAIL, password: 'admin-password' })
    const token = b.cookies.get('clawport_session') as string
    const out = await b.write('POST', '/api/auth/logout')
    expect(out.status).toBe(204)
    expect(b.cookies.size).toBe(0)
    const replay = await t.app.inject({
      method: 'GET',
      url: '/api/me',
      headers: { cookie: `clawport_session=${token}` },
    })
    expect(replay.statusCode).toBe(401)
  })

  it('lets anyone sign up when open, with an invite code for a plan', async () => {
    const admin = new Browser(t)
    await admin.req('POST', '/api/auth/login', { email: BOOTSTRAP_EMAIL, password: 'admin-password' })
    const invite = await admin.write('POST', '/api/admin/invites', { plan: 'pro', uses: 1 })
    expect(invite.status).toBe(201)
    const b = new Browser(t)
    const bad = await b.req('POST', '/api/auth/signup', {
      email: 'x@example.com',
      password: 'password1',
      invite_code: 'nope',
    })
    expect(bad.body.code).toBe('invite_invalid')
    const res = await b.req('POST', '/api/auth/signup', {
      email: 'new@example.com',
      password: 'password1',
      invite_code: invite.body.code,
    })
    expect(res.status).toBe(200)
    expect(res.body.user).toMatchObject({ email: 'new@example.com', plan: 'pro', subscription_active: true })
    const forbidden = await b.req('GET', '/api/admin/users')
    expect(forbidden.status).toBe(403)
    expect(forbidden.body.code).toBe('admin_required')
    const users = await admin.req('GET', '/api/admin/users')
    expect(users.body.map((u: { email: string }) => u.email)).toContain('new@example.com')
    const id = users.body.find((u: { email: string }) => u.email === 'new@example.com').id
    const patched = await admin.write('PATCH', `/api/admin/users/${id}`, { plan: 'team' })
    expect(patched.body).toMatchObject({ plan: 'team', instance_limit: 10 })
    expect(
      (await admin.req('GET', '/api/admin/plans')).body.find((p: { name: string }) => p.name === 'team')
        .users,
    ).toBe(2) // with the first administrator
    expect((await admin.write('DELETE', `/api/admin/invites/${invite.body.code}`)).status).toBe(204)
  })

  it('serves the dashboard with security headers and an SPA fallback outside /api', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/instances/abc' })
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('<div id="root">')
    expect(page.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/)
    expect(page.headers['x-content-type-options']).toBe('nosniff')
    expect(page.headers['referrer-policy']).toBe('same-origin')
    const root = await t.app.inject({ method: 'GET', url: '/' })
    expect(root.body).toContain('<div id="root">')
    const asset = await t.app.inject({ method: 'GET', url: '/assets/app-abc123.js' })
    expect(asset.headers['cache-control']).toMatch(/immutable/)
    expect((await t.app.inject({ method: 'GET', url: '/assets/missing.js' })).statusCode).toBe(404)
    const api = await t.app.inject({ method: 'GET', url: '/api/nothing-here' })
    expect(api.statusCode).toBe(404)
    expect(api.json().code).toBe('route_not_found')
    expect((await t.app.inject({ method: 'GET', url: '/../../etc/passwd' })).body).not.toContain('root:')
  })
})
