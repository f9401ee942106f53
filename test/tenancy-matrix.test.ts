import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { createServices, type Services } from '../src/core/services.js'
import { nowIso } from '../src/core/time.js'
import { buildApp } from '../src/http/app.js'
import { createLogger } from '../src/log.js'
import { TEST_PLANS } from './helpers/plans.js'
import { captureDoor, doorClient, example, type Operation, operations } from './helpers/route-matrix.js'
import { insertInstanceRow } from './helpers/rows.js'
import { tempDataDir } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

/**
 * Routes callable without a key, each with why a second user's key proves nothing there.
 * A route that becomes public must be added here, with its reason, or the matrix fails.
 */
const PUBLIC: Record<string, string> = {
  'GET /api': 'the discovery document: the same for everyone, it names no resource',
  'GET /api/auth/session': "the dashboard's own sign-in state: it reads only the caller's cookie",
  'POST /api/auth/login': 'sign-in: takes credentials, names no resource',
  'POST /api/auth/logout': "sign-out: ends only the caller's own cookie session",
  'POST /api/auth/setup': 'first-run password: only before any user has one',
  'POST /api/auth/signup': 'open sign-up: creates a new account, names no existing resource',
  'POST /api/pipelines/{id}/webhook/{secret}':
    "the pipeline's webhook: its secret is the credential, shown once to the owner (from inside an instance it is scoped, see below)",
}

/** What an instance may call on its door; every other route must not exist there (404). */
const IN_INSTANCE = [
  /^\/api$/,
  /^\/api\/self$/,
  /^\/api\/instances(\/|$)/,
  /^\/api\/swarms(\/|$)/,
  /^\/api\/pipelines(\/|$)/,
]

/** Administration answers 403 admin_required to every non-administrator before it looks anything up. */
const ADMIN = /^\/api\/admin\//

describe('tenancy matrix: every route, every kind of foreign caller', () => {
  let services: Services
  let app: FastifyInstance
  let dataDir: string
  let doc: Record<string, any>
  let ops: Operation[]
  let door: Awaited<ReturnType<typeof doorClient>>
  let aliceKey: string
  let bobKey: string
  const ids: Record<string, string> = {}
  let secret: string

  async function instance(userId: string): Promise<string> {
    const id = await insertInstanceRow(services.store, userId)
    return id
  }

  async function swarm(userId: string, members: string[]): Promise<string> {
    const id = randomUUID()
    const at = nowIso()
    await services.store.automation.swarms.insert({
      id,
      user_id: userId,
      name: `s-${id.slice(0, 4)}`,
      created_at: at,
      updated_at: at,
    })
    for (const [position, instance_id] of members.entries())
      await services.store.automation.swarms.addMember({
        instance_id,
        swarm_id: id,
        position,
        role: null,
        instructions: null,
        created_at: at,
      })
    return id
  }

  const api = async (method: string, url: string, key: string, body?: unknown) => {
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${key}` },
      ...(body !== undefined ? { payload: body as object } : {}),
    })
    return {
      status: res.statusCode,
      body: res.headers['content-type']?.toString().includes('json') ? res.json() : res.body,
    }
  }

  beforeAll(async () => {
    dataDir = tempDataDir('clawport-matrix-')
    const config = loadConfig({
      CLAWPORT_PLANS: TEST_PLANS,
      CLAWPORT_GATEWAY: 'off',
      CLAWPORT_DATA_DIR: dataDir,
      CLAWPORT_LOG_LEVEL: 'silent',
    })
    services = await createServices(config, createLogger('silent'))
    const doorHandler = captureDoor(services)
    app = await buildApp(services, createLogger('silent'))
    await app.ready()
    const alice = await services.accounts.createUser({ email: 'alice@example.com', plan: 'team' })
    const bob = await services.accounts.createUser({ email: 'bob@example.com', plan: 'free' })
    aliceKey = (await services.keys.create(alice.id, 'k')).key
    bobKey = (await services.keys.create(bob.id, 'k')).key
    ids.aliceKey = (await services.keys.list(alice.id))[0]?.id as string
    ids.alice = alice.id
    // Alice: a swarm {member, sibling}, an instance outside it, and a second swarm of her own.
    ids.member = await instance(alice.id)
    ids.sibling = await instance(alice.id)
    ids.outside = await instance(alice.id)
    ids.otherMember = await instance(alice.id)
    ids.swarm = await swarm(alice.id, [ids.member, ids.sibling])
    ids.otherSwarm = await swarm(alice.id, [ids.otherMember])
    const created = await api('POST', '/api/pipelines', aliceKey, {
      name: 'out',
      webhook: true,
      steps: [{ name: 'leak', type: 'exec', instance_id: ids.outside, command: 'cat /workspace/secret' }],
    })
    expect(created.status).toBe(201)
    ids.pipeline = created.body.id
    secret = String(created.body.webhook_url).split('/').pop() as string
    const inside = await api('POST', '/api/pipelines', aliceKey, {
      name: 'in',
      steps: [{ name: 'ok', type: 'exec', instance_id: ids.sibling, command: 'true' }],
    })
    ids.insidePipeline = inside.body.id
    const run = await api('POST', `/api/pipelines/${ids.pipeline}/runs`, aliceKey, {})
    expect(run.status).toBe(202)
    ids.run = run.body.id
    const msg = await api('POST', `/api/instances/${ids.outside}/inbox`, aliceKey, { message: 'hi' })
    expect(msg.status).toBe(202)
    ids.message = msg.body.id
    const hook = await api('POST', '/api/webhooks', aliceKey, { url: 'https://example.com/hook' })
    expect(hook.status).toBe(201)
    ids.webhook = hook.body.id
    doc = (await app.inject({ method: 'GET', url: '/api/openapi.json' })).json()
    ops = operations(doc)
    door = await doorClient(doorHandler(), { instanceId: ids.member, userId: alice.id }, dataDir)
  })
  afterAll(async () => {
    await door?.close()
    await app?.close()
    await services?.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  /** The URL of an operation aimed at Alice's resources outside the member's swarm. */
  function target(op: Operation): string {
    const value = (name: string): string => {
      if (name === 'run_id') return ids.run as string
      if (name === 'message_id') return ids.message as string
      if (name === 'secret') return secret
      if (name === 'sid') return 'a-session'
      if (name === 'code') return 'an-invite'
      if (op.path.startsWith('/api/instances/')) return ids.outside as string
      if (op.path.startsWith('/api/swarms/')) return ids.otherSwarm as string
      if (op.path.startsWith('/api/pipelines/')) return ids.pipeline as string
      if (op.path.startsWith('/api/keys/')) return ids.aliceKey as string
      if (op.path.startsWith('/api/webhooks/')) return ids.webhook as string
      if (op.path.startsWith('/api/admin/users/')) return ids.alice as string
      // No runner exists here; the route is refused before it is looked up.
      if (op.path.startsWith('/api/admin/runners/')) return 'a-runner'
      throw new Error(`the matrix does not know what {${name}} of ${op.operationId} names: add it`)
    }
    const url = op.path.replace(/\{(\w+)\}/g, (_, n: string) => value(n))
    const q = op.query.map((p) => `${p.name}=${encodeURIComponent(String(example(doc, p.schema)))}`)
    return q.length ? `${url}?${q.join('&')}` : url
  }

  /** A valid body; where a body names an instance, it names the one outside the swarm. */
  function body(op: Operation): unknown {
    if (op.operationId === 'pipelines.create')
      return { name: 'p', steps: [{ name: 's', type: 'exec', instance_id: ids.outside, command: 'true' }] }
    if (op.operationId === 'files.upload') return { fileName: 'a.txt', content: 'x' }
    return op.body ? example(doc, op.body) : undefined
  }

  const foreign = () =>
    [
      ids.outside,
      ids.otherMember,
      ids.otherSwarm,
      ids.pipeline,
      ids.run,
      ids.message,
      ids.webhook,
    ] as string[]

  it('covers every documented route, and lists the public ones explicitly', () => {
    expect(ops.length).toBeGreaterThan(50)
    expect(
      ops
        .filter((o) => o.public)
        .map((o) => `${o.method} ${o.path}`)
        .sort(),
    ).toEqual(Object.keys(PUBLIC).sort())
  })

  it("shows another user's key none of the first user's resources in any listing (before it tries them)", async () => {
    for (const op of ops.filter((o) => o.method === 'GET' && !o.params.length && !o.public && !o.websocket)) {
      const res = await api('GET', target(op), bobKey)
      for (const id of [...foreign(), ids.member, ids.swarm])
        expect(JSON.stringify(res.body), op.operationId).not.toContain(id)
    }
  })

  it("answers 404 to another user's key on each of the first user's resources", async () => {
    const failures: string[] = []
    for (const op of ops) {
      if (op.public || ADMIN.test(op.path) || (!op.params.length && op.operationId !== 'pipelines.create'))
        continue
      const url = target(op)
      let status: number
      if (op.websocket) {
        status = await app.injectWS(url, { headers: { authorization: `Bearer ${bobKey}` } }).then(
          (ws) => {
            ws.terminate()
            return 101
          },
          (err: Error) => Number(/(\d{3})/.exec(err.message)?.[1]),
        )
      } else status = (await api(op.method, url, bobKey, body(op))).status
      if (status !== 404) failures.push(`${op.method} ${url} -> ${status}`)
    }
    expect(failures).toEqual([])
  })

  it('answers 404 from inside a swarm member to everything outside its swarm, and to every route beyond the in-instance API', async () => {
    const failures: string[] = []
    // Deletes last, so that one which wrongly succeeds cannot hide what the others would do.
    for (const op of [...ops].sort((x, y) => Number(x.method === 'DELETE') - Number(y.method === 'DELETE'))) {
      const inInstance = IN_INSTANCE.some((r) => r.test(op.path.replace(/\/\{.*$/, '')) || r.test(op.path))
      // The door serves plain requests only: a WebSocket route answers 426 there before any lookup.
      if (inInstance && op.websocket) continue
      const url = target(op)
      const res = await door.request(op.method, url, body(op))
      if (!inInstance || op.params.length || op.method !== 'GET') {
        if (inInstance && op.path === '/api' && res.status === 200) continue
        if (res.status !== 404) failures.push(`${op.method} ${url} -> ${res.status}`)
        continue
      }
      const text = JSON.stringify(res.body)
      for (const id of foreign()) if (text.includes(id)) failures.push(`${op.method} ${url} shows ${id}`)
    }
    expect(failures).toEqual([])
    // Not vacuous: what is inside the swarm answers.
    expect((await door.request('GET', `/api/instances/${ids.sibling}`)).status).toBe(200)
    expect((await door.request('GET', `/api/swarms/${ids.swarm}`)).status).toBe(200)
    expect((await door.request('GET', `/api/pipelines/${ids.insidePipeline}`)).status).toBe(200)
    const listed = await door.request('GET', '/api/pipelines')
    expect(listed.body.map((p: { id: string }) => p.id)).toEqual([ids.insidePipeline])
  })

  it('never lets a run started from inside a swarm touch an instance outside it', async () => {
    // A run recorded as started by the member, on a pipeline that reaches outside its swarm.
    const at = nowIso()
    const runId = randomUUID()
    const steps = [
      {
        name: 'leak',
        type: 'exec',
        stage: 0,
        status: 'pending',
        output: null,
        error: null,
        attempts: 0,
        started_at: null,
        finished_at: null,
        duration_ms: null,
      },
    ]
    await services.store.automation.pipelines.insertRun({
      id: runId,
      pipeline_id: ids.pipeline as string,
      user_id: ids.alice as string,
      trigger: 'manual',
      status: 'queued',
      input: {},
      steps,
      error: null,
      created_at: at,
      updated_at: at,
      started_at: null,
      finished_at: null,
      scope_instance_id: ids.member as string,
    })
    services.pipelines.runner.launch(runId)
    await waitFor(
      `run ${runId} to fail`,
      async () => (await services.store.automation.pipelines.getRun(runId))?.status === 'failed',
      { timeoutMs: 10_000 },
    )
    const run = await services.store.automation.pipelines.getRun(runId)
    expect(run?.steps[0]?.error).toBe(`Instance ${ids.outside} was not found.`)
  })
})
