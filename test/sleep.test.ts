import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { gatewayEnv, SLEEP_PLANS } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'
import { Term } from './helpers/ws.js'

/**
 * Idle instances sleep: a real `clawport serve` and one real instance with the real OpenClaw
 * gateway, on a plan that sleeps after 9 s unused. Its gateway and desktop stop (the clawlet
 * stays), exec and files keep working without waking it, and chat, the terminal and the inbox
 * wake it, with nothing of its workspace or chat history lost.
 */
describe('idle instances sleep and wake', () => {
  let s: TestServer
  let model: ModelServer
  let key: string
  let otherKey: string
  let id: string

  const api = (method: string, p: string, body?: unknown, k = key) =>
    s.api(method, `/api/instances/${id}${p}`, { key: k, ...(body === undefined ? {} : { body }) })
  /** The command lines of the instance's processes that match `re` (counted from inside). */
  const count = async (re: string) => {
    const out = await s.exec(
      id,
      `for p in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $p 2>/dev/null; echo; done | grep -c '${re}' || true`,
      {},
      key,
    )
    return Number(out.stdout.trim())
  }
  // The gateway renames itself `openclaw`; its workers run from /opt/openclaw.
  const gatewayProcesses = () => count('[o]penclaw')
  const desktopProcesses = () => count('^[X]tigervnc')
  const asleep = () => s.waitStatus(id, 'sleeping', key, 90_000)
  /** The status says `sleeping` as the stop begins; its processes are gone within seconds. */
  const stopped = () =>
    waitFor(
      'the gateway and desktop processes to end',
      async () => (await gatewayProcesses()) + (await desktopProcesses()) === 0,
      { timeoutMs: 30_000, intervalMs: 500 },
    )

  beforeAll(async () => {
    buildOnce()
    model = await startModelServer()
    s = await startServer(
      gatewayEnv(model.baseUrl, 'sk-upstream-sleep-test', {
        CLAWPORT_PLANS: SLEEP_PLANS,
        CLAWPORT_LLM_FIRST_BYTE_TIMEOUT_MS: '5000',
        // Gateways boot slowly on a busy 2-core host.
        CLAWPORT_GATEWAY_READY_TIMEOUT_MS: '400000',
        CLAWPORT_WAKE_WAIT_MS: '400000',
      }),
    )
    key = await s.user('sleeper@example.com', 'nap')
    otherKey = await s.user('stranger@example.com', 'nap')
    id = (await s.readyInstance(key, {}, 420_000)).id
    // Something in the workspace and in the chat history that must outlive every sleep.
    expect((await api('POST', '/files/write', { path: 'kept.txt', content: 'still here' })).status).toBe(200)
    const turn = await api('POST', '/chat', {
      message: 'run: echo agent-wrote > by-agent.txt && cat by-agent.txt',
    })
    expect(turn.status, JSON.stringify(turn.body)).toBe(200)
    expect(turn.body.message.content).toBe('ran: agent-wrote')
  }, 480_000)

  afterAll(async () => {
    await s?.destroy()
    await model?.close()
  })

  it('sleeps once unused for its idle period; a stranger naming it does not keep it awake', async () => {
    expect(await gatewayProcesses()).toBeGreaterThan(0)
    // A stranger's calls are answered 404 and count as no use of the instance.
    const poke = setInterval(() => void api('GET', '/files?path=/workspace', undefined, otherKey), 500)
    try {
      const inst = await asleep()
      expect(inst.status).toBe('sleeping')
    } finally {
      clearInterval(poke)
    }
    expect((await api('GET', '/files', undefined, otherKey)).status).toBe(404)
    await stopped()
    const status = (await api('GET', '/status')).body
    expect(status).toMatchObject({ status: 'sleeping', ready: false, clawlet: { ok: true } })
    expect(status.gateway.status).toBe('sleeping')
    expect(status.desktop.status).toBe('sleeping')
  }, 120_000)

  it('runs exec and files while asleep, without waking it', async () => {
    expect(await gatewayProcesses()).toBe(0)
    expect(await desktopProcesses()).toBe(0)
    expect((await s.exec(id, 'cat kept.txt', {}, key)).stdout).toBe('still here')
    expect((await api('POST', '/files/write', { path: 'while-asleep.txt', content: 'zzz' })).status).toBe(200)
    expect((await api('GET', '/files/read?path=by-agent.txt')).body.content).toBe('agent-wrote\n')
    // Give a wake (which would be wrong) the time to show.
    await new Promise((r) => setTimeout(r, 3_000))
    expect((await api('GET', '')).body.status).toBe('sleeping')
    expect(await gatewayProcesses()).toBe(0)
  }, 60_000)

  it('wakes for a chat turn, which is answered; the history and the workspace are intact', async () => {
    const res = await api('POST', '/chat', { message: 'good morning' })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body.message.content).toBe('echo: good morning')
    expect((await api('GET', '')).body.status).toBe('ready')
    expect(await gatewayProcesses()).toBeGreaterThan(0)
    const history = (await api('GET', `/chat/messages?session_id=${res.body.session_id}&limit=100`)).body
    const texts = history.map((m: { content: string }) => m.content)
    expect(texts).toContain('run: echo agent-wrote > by-agent.txt && cat by-agent.txt')
    expect(texts).toContain('ran: agent-wrote')
    expect(texts.at(-1)).toBe('echo: good morning')
    expect((await s.exec(id, 'cat kept.txt while-asleep.txt by-agent.txt', {}, key)).stdout).toBe(
      'still herezzzagent-wrote\n',
    )
    // The agent still has its tools and workspace after the wake.
    const again = await api('POST', '/chat', { message: 'run: cat kept.txt' })
    expect(again.body.message?.content, JSON.stringify(again.body)).toBe('ran: still here')
  }, 450_000)

  it('wakes for the terminal; its shell works at once, and an open terminal keeps it awake', async () => {
    await asleep()
    const wsUrl = `${s.url.replace(/^http/, 'ws')}/api/instances/${id}/terminal/ws`
    const term = await Term.open(wsUrl, { authorization: `Bearer ${key}` })
    try {
      term.type('echo shell-$((40+2))\n')
      await term.waitOutput(/shell-42/)
      await s.waitStatus(id, 'ready', key, 420_000)
      // Longer than the idle period and a sweep, with the socket open and nothing typed.
      await new Promise((r) => setTimeout(r, 15_000))
      expect((await api('GET', '')).body.status).toBe('ready')
    } finally {
      await term.close()
    }
  }, 500_000)

  it('wakes for an inbox message and delivers it', async () => {
    await asleep()
    const sent = await api('POST', '/inbox', { message: 'a letter' })
    expect(sent.status, JSON.stringify(sent.body)).toBe(202)
    let got = await api('GET', `/inbox/${sent.body.id}?wait_ms=120000`)
    for (let i = 0; i < 3 && got.body.status !== 'replied' && got.body.status !== 'failed'; i++)
      got = await api('GET', `/inbox/${sent.body.id}?wait_ms=120000`)
    expect(got.body, JSON.stringify(got.body)).toMatchObject({ status: 'replied', reply: 'echo: a letter' })
  }, 500_000)

  it('sleeps when asked, stays asleep across a server restart and wakes when asked; not for another user; a stopped instance does neither', async () => {
    await s.waitStatus(id, 'ready', key, 420_000)
    expect((await api('POST', '/sleep', undefined, otherKey)).status).toBe(404)
    const slept = await api('POST', '/sleep')
    expect(slept.status, JSON.stringify(slept.body)).toBe(200)
    expect(slept.body.status).toBe('sleeping')
    expect(await gatewayProcesses()).toBe(0)
    await s.stop()
    await s.start()
    expect((await api('GET', '')).body.status).toBe('sleeping')
    expect((await api('GET', '/status')).body.gateway.status).toBe('sleeping')
    expect((await api('POST', '/wake', undefined, otherKey)).status).toBe(404)
    expect((await api('GET', '')).body.status).toBe('sleeping')
    const woken = await api('POST', '/wake')
    expect(woken.status, JSON.stringify(woken.body)).toBe(202)
    expect(['waking', 'ready']).toContain(woken.body.status)
    await s.waitStatus(id, 'ready', key, 420_000)
    expect(await gatewayProcesses()).toBeGreaterThan(0)
    expect(await desktopProcesses()).toBeGreaterThan(0)
    const res = await api('POST', '/chat', { message: 'after the restart' })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body.message.content).toBe('echo: after the restart')
    // An instance that is not running can neither sleep nor wake.
    expect((await api('POST', '/shutdown')).status).toBe(202)
    await s.waitStatus(id, 'stopped', key)
    expect((await api('POST', '/sleep')).body).toMatchObject({ status: 409, code: 'invalid_state' })
    expect((await api('POST', '/wake')).body).toMatchObject({ status: 409, code: 'invalid_state' })
  }, 1_200_000)
})
