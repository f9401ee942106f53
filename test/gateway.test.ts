import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import type { TurnEvent } from '../src/core/agent.js'
import { asUser } from '../src/core/scope.js'
import { createServices } from '../src/core/services.js'
import { createLogger } from '../src/log.js'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { GATEWAY_PLANS } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { waitFor } from './helpers/wait.js'

/** A provider key that must never be readable inside an instance. */
const UPSTREAM_KEY = 'sk-upstream-Zq7vK2mW9pL4xN8r'

async function collect(events: AsyncIterable<TurnEvent>): Promise<TurnEvent[]> {
  const out: TurnEvent[] = []
  for await (const e of events) out.push(e)
  return out
}

describe('the real OpenClaw gateway in an instance, with the model broker and the agent runner', () => {
  let t: InProcess
  let model: ModelServer
  let userId: string
  let key: string
  let id: string
  let createMs = 0
  let env: Record<string, string> = {}

  const turn = (message: string, signal = new AbortController().signal, sessionKey = 'test-session') =>
    collect(t.services.agent.runTurn({ instanceId: id, sessionKey, message, signal }))
  const status = async () => (await t.inject('GET', `/api/instances/${id}/status`, key)).body
  const exec = async (command: string) =>
    (await t.inject('POST', `/api/instances/${id}/terminal/exec`, key, { command, timeout_ms: 20_000 })).body

  beforeAll(async () => {
    buildOnce()
    model = await startModelServer()
    env = {
      CLAWPORT_PLANS: GATEWAY_PLANS,
      CLAWPORT_DEFAULT_PLAN: 'free',
      CLAWPORT_TMP_SIZE_MB: '128',
      CLAWPORT_GATEWAY: 'on',
      CLAWPORT_LLM_BASE_URL: model.baseUrl,
      CLAWPORT_LLM_API_KEY: UPSTREAM_KEY,
      CLAWPORT_LLM_MODEL: 'test-model',
      CLAWPORT_LLM_FIRST_BYTE_TIMEOUT_MS: '3000',
      CLAWPORT_LLM_IDLE_TIMEOUT_MS: '3000',
      // A hung gateway is found in 3 × (2.5 + 2.5) s instead of the default 3 × (5 + 5) s.
      CLAWPORT_GATEWAY_LIVENESS_MS: '2500',
    }
    t = await inProcess(env)
    const user = await t.services.accounts.createUser({ email: 'agent@example.com', plan: 'agent' })
    userId = user.id
    key = (await t.services.keys.create(user.id, 'test')).key
    const started = Date.now()
    const created = await t.services.instances.create(user, {})
    id = created.id
    // The instance must not be ready before its gateway is.
    await waitFor(
      'the instance ready',
      async () => {
        const inst = await t.services.instances.get(asUser(userId), id)
        if (inst.status === 'error') throw new Error(`instance failed: ${inst.error}`)
        return inst.status === 'ready'
      },
      { timeoutMs: 230_000 },
    )
    createMs = Date.now() - started
  }, 240_000)

  afterAll(async () => {
    if (t && id) await t.services.instances.remove(asUser(userId), id).catch(() => {})
    await t?.close()
    await model?.close()
  })

  it('is ready only once its gateway is ready', async () => {
    const s = await status()
    expect(s).toMatchObject({ status: 'ready', ready: true, gateway: { status: 'ready', restarts: 0 } })
    expect(s.gateway.ready_ms).toBeGreaterThan(1000)
    expect(createMs).toBeGreaterThanOrEqual(s.gateway.ready_ms)
    console.log(`create -> ready with a gateway: ${createMs} ms (gateway boot ${s.gateway.ready_ms} ms)`)
  })

  it('runs a turn: deltas, then one done with the whole answer', async () => {
    const started = Date.now()
    const events = await turn('hello there')
    const deltas = events.filter((e) => e.type === 'delta').map((e) => (e as { text: string }).text)
    expect(deltas.length).toBeGreaterThan(0)
    expect(deltas.join('')).toBe('echo: hello there')
    expect(events.at(-1)).toEqual({ type: 'done', text: 'echo: hello there' })
    expect(events.filter((e) => e.type === 'done' || e.type === 'error')).toHaveLength(1)
    console.log(`first turn: ${Date.now() - started} ms`)
    const warm = Date.now()
    expect((await turn('again')).at(-1)).toEqual({ type: 'done', text: 'echo: again' })
    console.log(`warm turn: ${Date.now() - warm} ms`)
    // The broker sent the upstream model and key, and metered the calls.
    const last = model.requests.at(-1)
    expect(last?.body.model).toBe('test-model')
    expect(last?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`)
    const usage = await t.services.store.usage.totals({ instanceId: id })
    expect(usage.calls).toBeGreaterThanOrEqual(2)
    expect(usage.completion_tokens).toBeGreaterThan(0)
  })

  it('reports a tool call with its arguments and result, and the file it made is in /workspace', async () => {
    const events = await turn('run: echo made-by-agent > agent.txt && cat agent.txt')
    const tools = events.filter((e) => e.type === 'tool')
    expect(tools[0]).toMatchObject({
      type: 'tool',
      name: 'exec',
      status: 'started',
      arguments: { command: 'echo made-by-agent > agent.txt && cat agent.txt' },
    })
    expect(tools.at(-1)).toMatchObject({ type: 'tool', name: 'exec', status: 'completed' })
    expect(String((tools.at(-1) as { result: unknown }).result)).toContain('made-by-agent')
    expect(events.at(-1)).toEqual({ type: 'done', text: 'ran: made-by-agent' })
    const file = await t.inject('GET', `/api/instances/${id}/files/read?path=agent.txt`, key)
    expect(file.status).toBe(200)
    expect(file.body.content).toBe('made-by-agent\n')
  })

  it("gives a clear error, the broker's own, when the model hangs or fails", async () => {
    // How soon is bench/chat.ts's figure; here, that the broker's first-byte timeout is what cut it.
    const slow = await turn('slow')
    expect(slow.at(-1)).toMatchObject({ type: 'error', code: 'upstream_timeout' })
    expect((slow.at(-1) as { message: string }).message).toMatch(/did not start answering within 3 s/)
    const failed = await turn('fail')
    expect(failed.at(-1)).toMatchObject({ type: 'error', code: 'upstream_error' })
    // The session still works afterwards.
    expect((await turn('still there')).at(-1)).toEqual({ type: 'done', text: 'echo: still there' })
  })

  it('aborts a turn through the signal', async () => {
    const ctl = new AbortController()
    setTimeout(() => ctl.abort(), 1500)
    // The model would answer after 2.5 s: ending as `aborted` means the signal, not the answer, ended it.
    const events = await turn('slow 2500', ctl.signal, 'abort-session')
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'aborted' })
    expect(events.some((e) => e.type === 'done')).toBe(false)
  })

  it('holds no provider key anywhere inside the instance', async () => {
    const script = [
      // Built from two halves so the command line itself does not hold the key.
      `a=${UPSTREAM_KEY.slice(0, 12)}; b=${UPSTREAM_KEY.slice(12)}; k="$a$b"`,
      'env | grep -c "$k"',
      'for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do grep -l "$k" "$f" 2>/dev/null; done',
      'grep -rl "$k" /home/claw /workspace /tmp /run/clawport /opt/openclaw/package.json 2>/dev/null',
      'cat /home/claw/.openclaw/openclaw.json | grep -c apiKey',
      'echo scanned',
    ].join('\n')
    const res = await exec(script)
    expect(res.stdout).toBe('0\n1\nscanned\n')
    // The broker is reachable from inside, and answers without any key from the instance.
    const models = await exec(
      `/opt/clawport/bin/node -e "fetch('http://127.0.0.1:18790/v1/models').then(r=>r.text()).then(console.log)"`,
    )
    expect(JSON.parse(models.stdout)).toMatchObject({ data: [{ id: 'default' }] })
  })

  it('restarts a gateway that crashed inside the instance', async () => {
    const before = await status()
    const pid = before.gateway.pid as number
    expect(pid).toBeGreaterThan(0)
    await exec(`kill -9 ${pid}`)
    let s = await status()
    await waitFor(
      () => `the gateway restarted: ${JSON.stringify(s.gateway)}`,
      async () => {
        s = await status()
        return s.gateway.status === 'ready' && s.gateway.restarts >= 1
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    )
    expect(s.gateway.pid).not.toBe(pid)
    expect((await turn('after the crash')).at(-1)).toEqual({ type: 'done', text: 'echo: after the crash' })
  }, 150_000)

  it('kills and restarts a gateway that stops answering (a stopped process, a hung event loop)', async () => {
    const before = await status()
    const pid = before.gateway.pid as number
    await exec(`kill -STOP ${pid}`)
    // Seen as crashed with the reason, then ready again on a new process.
    let s = await status()
    let reason: string | undefined
    await waitFor(
      () => `the hung gateway restarted: ${JSON.stringify(s.gateway)}`,
      async () => {
        s = await status()
        if (s.gateway.status !== 'ready') reason ??= s.gateway.detail
        return s.gateway.status === 'ready' && s.gateway.restarts > before.gateway.restarts
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    )
    expect(reason).toMatch(/stopped answering/)
    expect(s.gateway.pid).not.toBe(pid)
    expect((await exec(`kill -0 ${pid} 2>&1 || echo gone`)).stdout).toContain('gone')
    expect((await turn('after the hang')).at(-1)).toEqual({ type: 'done', text: 'echo: after the hang' })
  }, 150_000)

  it('serves the model again after a control-plane restart (the control socket is reopened)', async () => {
    const config = loadConfig({ ...env, CLAWPORT_DATA_DIR: t.dataDir, CLAWPORT_LOG_LEVEL: 'silent' })
    const next = await createServices(config, createLogger('silent'))
    try {
      await next.instances.recover()
      const events = await collect(
        next.agent.runTurn({
          instanceId: id,
          sessionKey: 'adopted',
          message: 'adopted',
          signal: new AbortController().signal,
        }),
      )
      expect(events.at(-1)).toEqual({ type: 'done', text: 'echo: adopted' })
    } finally {
      await next.close()
    }
  })
})

describe('without a model configured', () => {
  it('answers model_not_configured, and the instance still works', async () => {
    buildOnce()
    const t = await inProcess({
      CLAWPORT_PLANS: GATEWAY_PLANS,
      CLAWPORT_GATEWAY: 'off',
      CLAWPORT_TMP_SIZE_MB: '64',
    })
    try {
      const user = await t.services.accounts.createUser({ email: 'nomodel@example.com', plan: 'agent' })
      const key = (await t.services.keys.create(user.id, 'test')).key
      const inst = await t.services.instances.create(user, {})
      await waitFor(
        'the instance ready',
        async () => {
          const s = (await t.services.instances.get(asUser(user.id), inst.id)).status
          if (s === 'error') throw new Error('instance failed')
          return s === 'ready'
        },
        { intervalMs: 25 },
      )
      const events = await collect(
        t.services.agent.runTurn({
          instanceId: inst.id,
          sessionKey: 's',
          message: 'hi',
          signal: new AbortController().signal,
        }),
      )
      expect(events).toHaveLength(1)
      expect(events[0]).toMatchObject({ type: 'error', code: 'model_not_configured' })
      expect((events[0] as { message: string }).message).toContain('CLAWPORT_LLM_BASE_URL')
      // The broker answers the same from inside the instance.
      const res = await t.inject('POST', `/api/instances/${inst.id}/terminal/exec`, key, {
        command: `/opt/clawport/bin/node -e "fetch('http://127.0.0.1:18790/v1/chat/completions',{method:'POST',body:'{}'}).then(async r=>console.log(r.status, await r.text()))"`,
      })
      expect(res.body.stdout).toMatch(/^503 .*model_not_configured/)
      const status = await t.inject('GET', `/api/instances/${inst.id}/status`, key)
      expect(status.body.gateway.status).toBe('disabled')
      expect(
        (await t.inject('POST', `/api/instances/${inst.id}/terminal/exec`, key, { command: 'echo ok' })).body
          .stdout,
      ).toBe('ok\n')
      await t.services.instances.remove(asUser(user.id), inst.id)
    } finally {
      await t.close()
    }
  })
})
