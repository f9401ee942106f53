import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ENV } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'

const SKILL = 'node /workspace/skills/clawport/clawport.mjs'

/** A GET on the instance's door from inside it, printing `<status> <body>`. */
const insideGet = (p: string) =>
  `node -e 'fetch(process.env.CLAWPORT_API_URL + ${JSON.stringify(p)}).then(async r => console.log(r.status, await r.text()))'`

/**
 * The scoped API on each instance's door, the skill's helper and the durable inbox, with real
 * sandboxes (no gateway: the agent is not needed to reach the API or to store and retry messages).
 */
describe('instances reach Clawport from inside', () => {
  let s: TestServer
  let alice: string
  let bob: string
  let a: string
  let b: string
  let c: string

  beforeAll(async () => {
    buildOnce()
    s = await startServer(TEST_ENV)
    alice = await s.user('alice@example.com', 'pro')
    bob = await s.user('bob@example.com', 'pro')
    ;[a, b, c] = (
      await Promise.all([
        s.readyInstance(alice, { name: 'alpha' }),
        s.readyInstance(alice, { name: 'beta' }),
        s.readyInstance(bob, { name: 'other' }),
      ])
    ).map((i) => i.id) as [string, string, string]
  }, 120_000)
  afterAll(() => s?.destroy())

  it('has the skill in the workspace and the API URL in the environment, and no secret', async () => {
    const r = await s.exec(a, 'head -3 skills/clawport/SKILL.md; echo "$CLAWPORT_API_URL"; env', {}, alice)
    expect(r.stdout).toContain('name: clawport')
    expect(r.stdout).toContain('http://127.0.0.1:18790/api')
    expect(r.stdout).not.toMatch(/sk_live_/)
  })

  it('lists its siblings and runs a command on one through the skill', async () => {
    const who = await s.exec(a, `${SKILL} whoami`, {}, alice)
    expect(JSON.parse(who.stdout)).toMatchObject({ instance: { id: a, name: 'alpha' }, swarm: null })
    const sib = await s.exec(a, `${SKILL} siblings`, {}, alice)
    expect(sib.stdout).toContain(b)
    expect(sib.stdout).not.toContain(c)
    const ran = await s.exec(a, `${SKILL} exec beta 'echo from-beta; hostname'`, {}, alice)
    expect(ran.exit_code).toBe(0)
    expect(ran.stdout).toContain('from-beta')
    await s.exec(a, 'echo shared > note.txt', {}, alice)
    expect((await s.exec(a, `${SKILL} put ${b} note.txt /workspace/got.txt`, {}, alice)).exit_code).toBe(0)
    expect((await s.exec(b, 'cat got.txt', {}, alice)).stdout).toBe('shared\n')
  })

  it("cannot reach another user's instances, keys, the account or billing from inside", async () => {
    for (const p of [
      `/instances/${c}`,
      `/instances/${c}/terminal/exec`,
      '/keys',
      '/me',
      '/me/model',
      '/me/usage',
      '/admin/pool',
    ]) {
      const r = await s.exec(a, insideGet(p), {}, alice)
      expect(r.stdout, p).toMatch(/^404 /)
    }
    const list = await s.exec(a, insideGet('/instances'), {}, alice)
    const ids = JSON.parse(list.stdout.slice(4))
      .map((i: { id: string }) => i.id)
      .sort()
    expect(ids).toEqual([a, b].sort())
    const ran = await s.exec(a, `${SKILL} exec ${c} 'echo no'`, {}, alice)
    expect(ran.exit_code).not.toBe(0)
    expect(ran.stderr).toContain('404')
  })

  it('delivers an inbox message once, through a crash, when the target is ready again', async () => {
    await s.api('POST', `/api/instances/${b}/shutdown`, { key: alice })
    await s.waitStatus(b, 'stopped', alice)
    const body = { message: 'hello from the inbox', correlation_id: 'corr-1', idempotency_key: 'once-1' }
    const first = await s.api('POST', `/api/instances/${b}/inbox`, { key: alice, body })
    expect(first.status).toBe(202)
    expect(first.body).toMatchObject({ status: 'pending', instance_id: b, correlation_id: 'corr-1' })
    await new Promise((r) => setTimeout(r, 1500))
    const waiting = await s.api('GET', `/api/instances/${b}/inbox/${first.body.id}`, { key: alice })
    expect(waiting.body.status).toBe('pending')
    expect(waiting.body.attempts).toBeGreaterThan(0)
    await s.kill9()
    await s.start()
    const again = await s.api('POST', `/api/instances/${b}/inbox`, { key: alice, body })
    expect(again.status).toBe(200)
    expect(again.body.id).toBe(first.body.id)
    // Someone else's instance is a 404, never a 403.
    expect((await s.api('POST', `/api/instances/${b}/inbox`, { key: bob, body })).status).toBe(404)
    await s.api('POST', `/api/instances/${b}/start`, { key: alice })
    await s.waitStatus(b, 'ready', alice)
    const end = await s.api('GET', `/api/instances/${b}/inbox/${first.body.id}?wait_ms=30000`, { key: alice })
    // Without a gateway the agent cannot answer, but the message is in the history, once.
    expect(['replied', 'failed']).toContain(end.body.status)
    expect(Date.parse(end.body.delivered_at)).toBeGreaterThanOrEqual(Date.parse(first.body.created_at))
    const msgs = await s.api(
      'GET',
      `/api/instances/${b}/chat/messages?session_id=${end.body.session_id}&limit=100`,
      {
        key: alice,
      },
    )
    expect(msgs.body.filter((m: { content: string }) => m.content === 'hello from the inbox')).toHaveLength(1)
    const events = await s.api('GET', `/api/instances/${b}/chat/events?limit=500`, { key: alice })
    const states = events.body
      .filter((e: { type: string }) => e.type === 'inbox')
      .map((e: any) => e.data.state)
    expect(states).toContain('delivered')
  }, 120_000)

  it('attributes inbox messages sent from inside to the sender, in both event streams', async () => {
    const sent = await s.exec(a, `${SKILL} send beta 'ping from alpha'`, {}, alice)
    expect(sent.stdout).toMatch(/^queued /)
    const id = sent.stdout.trim().split(' ')[1] as string
    const end = await s.api('GET', `/api/instances/${b}/inbox/${id}?wait_ms=30000`, { key: alice })
    expect(end.body).toMatchObject({ from_instance: a, sender: 'instance', reply_to: a })
    const msgs = await s.api(
      'GET',
      `/api/instances/${b}/chat/messages?session_id=${end.body.session_id}&limit=100`,
      {
        key: alice,
      },
    )
    const m = msgs.body.find((x: { id: string }) => x.id === id)
    expect(m).toMatchObject({ role: 'user', from_instance: a })
    const aEvents = await s.api('GET', `/api/instances/${a}/chat/events?limit=500`, { key: alice })
    expect(
      aEvents.body.some(
        (e: any) => e.type === 'inbox' && e.data.direction === 'sent' && e.data.message.id === id,
      ),
    ).toBe(true)
  }, 60_000)
})
