import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { createHosts, type NetnsHosts, netnsHostsUnavailable } from './helpers/netns-hosts.js'
import { gatewayEnv } from './helpers/plans.js'
import { freshDatabase, havePostgres, PG_SKIP_REASON } from './helpers/postgres.js'
import { startRunner } from './helpers/runner.js'
import { TEST_SECRET_KEY, TestServer, tempDataDir } from './helpers/server.js'

/**
 * The real OpenClaw gateway in an instance on a runner "host" (its own network namespace): the
 * control plane reaches the gateway through the runner's endpoint, and the agent's model calls
 * go from the instance's door on the runner to the control plane's broker. The instance has no
 * network; the model is the scripted test server on this machine.
 */
const SKIP = havePostgres() ? netnsHostsUnavailable() : PG_SKIP_REASON
if (SKIP) console.log(`runners-agent: skipped (${SKIP})`)

const TOKEN = 'runner-agent-token-0123456789abcdef0123456789'
const UPSTREAM_KEY = 'sk-upstream-runner-Qm3xV8pL2'

describe.skipIf(Boolean(SKIP))('the agent of an instance on a runner', () => {
  let net: NetnsHosts
  let model: ModelServer
  let dropDb: () => Promise<void> = async () => {}
  let cp: TestServer
  let runner: ChildProcess | undefined
  const runnerDir = tempDataDir('clawport-runner-agent-')
  let key = ''
  let id = ''

  beforeAll(async () => {
    net = await createHosts(1)
    model = await startModelServer()
    const db = await freshDatabase('runners_agent')
    dropDb = db.drop
    const url = new URL(db.url)
    url.hostname = net.bridgeAddress
    cp = await new TestServer(tempDataDir('clawport-runner-agent-cp-'), {
      ...gatewayEnv(model.baseUrl, UPSTREAM_KEY, {
        CLAWPORT_LLM_FIRST_BYTE_TIMEOUT_MS: '60000',
        CLAWPORT_LLM_IDLE_TIMEOUT_MS: '60000',
      }),
      CLAWPORT_DATABASE_URL: url.toString(),
      CLAWPORT_SECRET_KEY: TEST_SECRET_KEY,
      CLAWPORT_RUNNER_TOKEN: TOKEN,
      CLAWPORT_LOCAL_INSTANCES: 'off',
      CLAWPORT_DESKTOP: 'off',
      CLAWPORT_HOST: net.bridgeAddress,
    }).start()
    const host = net.hosts[0] as NetnsHosts['hosts'][number]
    const started = await startRunner({
      server: cp.url,
      name: 'agent-host',
      listen: `${host.address}:7443`,
      dataDir: runnerDir,
      env: {
        CLAWPORT_DATABASE_URL: url.toString(),
        CLAWPORT_RUNNER_TOKEN: TOKEN,
        CLAWPORT_UID_BASE: '336000',
      },
      spawn: (cmd, args, opts) => host.spawn(cmd, args, opts),
    })
    runner = started.proc
    key = await cp.user('agent@example.com', 'agent')
    const res = await cp.api('POST', '/api/instances', { key, body: { name: 'remote-agent' } })
    expect(res.status, JSON.stringify(res.body)).toBe(201)
    id = res.body.id
    await cp.waitStatus(id, 'ready', key, 300_000)
  }, 360_000)

  afterAll(async () => {
    if (id) await cp?.api('DELETE', `/api/instances/${id}`, { key }).catch(() => {})
    runner?.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 500))
    await cp?.destroy()
    await new TestServer(runnerDir).destroy().catch(() => {})
    await net?.cleanup()
    await model?.close()
    await dropDb()
  }, 120_000)

  it('runs on the runner, and answers a chat turn through it with the operator model', async () => {
    expect(fs.existsSync(path.join(runnerDir, 'instances', id))).toBe(true)
    const status = (await cp.api('GET', `/api/instances/${id}/status`, { key })).body
    expect(status).toMatchObject({ ready: true, gateway: { status: 'ready' } })
    const before = model.requests.length
    const res = await cp.api('POST', `/api/instances/${id}/chat`, {
      key,
      body: { message: 'through the runner' },
    })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body.message.content).toBe('echo: through the runner')
    // The model was called by the control plane's broker, with the operator's key, which the
    // instance never saw.
    const calls = model.requests.slice(before)
    expect(calls.length).toBeGreaterThan(0)
    expect(calls.every((r) => r.headers.authorization === `Bearer ${UPSTREAM_KEY}`)).toBe(true)
    const env = await cp.exec(id, 'env; cat ~/.openclaw/openclaw.json 2>/dev/null', {}, key)
    expect(env.stdout).not.toContain(UPSTREAM_KEY)
  }, 180_000)
})
