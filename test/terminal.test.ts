import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'
import { mustRefuse, Term } from './helpers/ws.js'

describe('the terminal over WebSocket, on a real server with real sandboxes', () => {
  let s: TestServer
  let id: string
  let wsBase: string
  const auth = () => ({ authorization: `Bearer ${s.adminKey}` })
  const termUrl = (query = '') => `${wsBase}/api/instances/${id}/terminal/ws${query}`

  beforeAll(async () => {
    s = await startServer({
      ...TEST_ENV,
      CLAWPORT_GATEWAY: 'off',
      CLAWPORT_DESKTOP: 'off',
      CLAWPORT_WS_TICKET_TTL_MS: '1500',
    })
    wsBase = s.url.replace(/^http/, 'ws')
    id = (await s.readyInstance()).id
  })
  afterAll(() => s?.destroy())

  it('runs a command in a login shell and shows its output', async () => {
    const t = await Term.open(termUrl(), auth())
    expect(t.controls[0]).toMatchObject({ type: 'ready', session_id: expect.stringMatching(/^term_/) })
    t.type('echo result-$((6*7)); id -un; pwd\n')
    await t.waitOutput(/result-42\r\nclaw\r\n\/workspace\r\n/)
    await t.close()
  })

  it('sizes the PTY from the query and from resize messages (stty size)', async () => {
    const t = await Term.open(termUrl('?cols=100&rows=30'), auth())
    t.type('stty size\n')
    await t.waitOutput(/^30 100\r?$/m)
    const mark = t.output.length
    t.resize(123, 45)
    t.type('stty size\n')
    await t.waitOutput(/^45 123\r?$/m, mark)
    await t.close()
  })

  it('keeps a session after its socket closes and replays it on reattach', async () => {
    const first = await Term.open(termUrl(), auth())
    const sid = first.sessionId
    first.type('echo before-$((20+3))\n')
    await first.waitOutput(/before-23/)
    await first.close()

    // The close reaches the instance a moment later.
    let listed: any
    for (let i = 0; i < 100; i++) {
      const list = await s.api('GET', `/api/instances/${id}/terminal/sessions`)
      expect(list.status).toBe(200)
      listed = list.body.find((x: { id: string }) => x.id === sid)
      if (listed?.clients === 0) break
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(listed).toMatchObject({ clients: 0, exited: false, cols: 80, rows: 24 })

    const again = await Term.open(termUrl(`?session_id=${sid}`), auth())
    expect(again.sessionId).toBe(sid)
    await again.waitOutput(/before-23/) // the replay, before anything is typed
    const mark = again.output.length
    again.type('echo after-$((40+2))\n')
    await again.waitOutput(/after-42/, mark)
    await again.close()

    expect((await s.api('DELETE', `/api/instances/${id}/terminal/sessions/${sid}`)).status).toBe(204)
    const gone = await mustRefuse(termUrl(`?session_id=${sid}`), auth())
    expect(gone).toMatchObject({ status: 404, body: { code: 'terminal_session_not_found', status: 404 } })
    expect((await s.api('DELETE', `/api/instances/${id}/terminal/sessions/${sid}`)).status).toBe(404)
  })

  it('shares one session between two clients', async () => {
    const a = await Term.open(termUrl(), auth())
    const b = await Term.open(termUrl(`?session_id=${a.sessionId}`), auth())
    a.type('echo from-a-$((1+1))\n')
    await Promise.all([a.waitOutput(/from-a-2/), b.waitOutput(/from-a-2/)])
    b.type('echo from-b-$((2+2))\n')
    await Promise.all([a.waitOutput(/from-b-4/), b.waitOutput(/from-b-4/)])
    const list = await s.api('GET', `/api/instances/${id}/terminal/sessions`)
    expect(list.body.find((x: { id: string }) => x.id === a.sessionId).clients).toBe(2)
    await Promise.all([a.close(), b.close()])
  })

  it('reports the exit of the shell to every client', async () => {
    const a = await Term.open(termUrl(), auth())
    const b = await Term.open(termUrl(`?session_id=${a.sessionId}`), auth())
    a.type('exit 5\n')
    for (const t of [a, b]) {
      await t.until(() => t.controls.find((c) => c.type === 'exit'), 'exit')
      expect(t.controls.at(-1)).toEqual({ type: 'exit', code: 5 })
      expect(await t.waitClose()).toMatchObject({ code: 1000 })
    }
  })

  it('takes a single-use ticket instead of the header', async () => {
    const res = await s.api('POST', `/api/instances/${id}/ws-ticket`)
    expect(res.status).toBe(200)
    expect(res.body.ticket).toMatch(/^wst_/)
    expect(Date.parse(res.body.expires_at)).toBeGreaterThan(Date.now())
    const t = await Term.open(termUrl(`?ticket=${res.body.ticket}`))
    t.type('echo ticket-ok\n')
    await t.waitOutput(/ticket-ok\r\n/)
    await t.close()
    const reused = await mustRefuse(termUrl(`?ticket=${res.body.ticket}`))
    expect(reused).toMatchObject({ status: 401, body: { code: 'invalid_ticket', status: 401 } })
  })

  it('refuses an expired ticket, a ticket for another instance and a made-up one', async () => {
    const late = (await s.api('POST', `/api/instances/${id}/ws-ticket`)).body.ticket
    await new Promise((r) => setTimeout(r, 1700))
    expect(await mustRefuse(termUrl(`?ticket=${late}`))).toMatchObject({
      status: 401,
      body: { code: 'invalid_ticket' },
    })

    const other = await s.readyInstance()
    const forOther = (await s.api('POST', `/api/instances/${other.id}/ws-ticket`)).body.ticket
    expect(await mustRefuse(termUrl(`?ticket=${forOther}`))).toMatchObject({ status: 401 })
    expect(await mustRefuse(termUrl('?ticket=wst_nope'))).toMatchObject({ status: 401 })
    expect((await s.api('DELETE', `/api/instances/${other.id}`)).status).toBe(204)
  })

  it('refuses a missing or wrong key, and another user’s instance, before the upgrade', async () => {
    const none = await mustRefuse(termUrl())
    expect(none).toMatchObject({ status: 401, body: { code: 'unauthorized', status: 401 } })
    const wrong = await mustRefuse(termUrl(), { authorization: 'Bearer sk_live_wrong' })
    expect(wrong).toMatchObject({ status: 401, body: { code: 'invalid_api_key' } })

    const otherKey = await s.user('mallory@example.com', 'pro')
    const foreign = await mustRefuse(termUrl(), { authorization: `Bearer ${otherKey}` })
    expect(foreign).toMatchObject({ status: 404, body: { code: 'instance_not_found', status: 404 } })
    const ticket = await s.api('POST', `/api/instances/${id}/ws-ticket`, { key: otherKey })
    expect(ticket.status).toBe(404)
    const list = await s.api('GET', `/api/instances/${id}/terminal/sessions`, { key: otherKey })
    expect(list.status).toBe(404)

    const plain = await s.api('GET', `/api/instances/${id}/terminal/ws`)
    expect(plain).toMatchObject({ status: 426, body: { code: 'upgrade_required' } })
  })

  it('closes an open terminal with 4003 when its key is revoked, and refuses the key’s tickets', async () => {
    const made = await s.api('POST', '/api/keys', { body: { name: 'terminal' } })
    expect(made.status).toBe(201)
    const other = await Term.open(termUrl(), auth())
    const t = await Term.open(termUrl(), { authorization: `Bearer ${made.body.key}` })
    t.type('echo still-here\n')
    await t.waitOutput(/still-here\r\n/)
    const ticket = (await s.api('POST', `/api/instances/${id}/ws-ticket`, { key: made.body.key })).body.ticket
    expect((await s.api('DELETE', `/api/keys/${made.body.id}`)).status).toBe(204)
    const closed = await t.waitClose(3_000)
    expect(closed).toEqual({ code: 4003, reason: 'API key revoked' })
    expect(await mustRefuse(termUrl(`?ticket=${ticket}`))).toMatchObject({
      status: 401,
      body: { code: 'invalid_ticket' },
    })
    // A socket of another key goes on.
    other.type('echo other-ok\n')
    await other.waitOutput(/other-ok\r\n/)
    expect(other.closed).toBeUndefined()
    other.ws.close()
  })

  it('closes open sockets with code 4001 when the instance shuts down', async () => {
    const t = await Term.open(termUrl(), auth())
    expect((await s.api('POST', `/api/instances/${id}/shutdown`)).status).toBe(202)
    const closed = await t.waitClose()
    expect(closed.code).toBe(4001)
    expect(closed.reason).toMatch(/shutting down/)
    await s.waitStatus(id, 'stopped')
    const refused = await mustRefuse(termUrl(), auth())
    expect(refused).toMatchObject({ status: 409, body: { code: 'instance_not_ready' } })
  })
})
