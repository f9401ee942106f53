import fs from 'node:fs'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { asUser } from '../src/core/scope.js'
import { createServices, type Services } from '../src/core/services.js'
import { buildApp } from '../src/http/app.js'
import { createLogger } from '../src/log.js'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { CLI, clientEnv, runNode } from './helpers/clients.js'
import { gatewayEnv } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { tempDataDir } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

/** Shaped like a real bot token; no messaging service is reachable from here (network off). */
const BOT_TOKEN = '7612345678:AAHfakeTokenFakeTokenFakeToken-xyz123'
const TOKEN_SECRET = BOT_TOKEN.split(':')[1] as string

describe('chat channels of an instance, on a real gateway with no network', () => {
  let app: FastifyInstance
  let services: Services
  let dataDir: string
  let model: ModelServer
  let logText = ''
  const answers: string[] = []
  let owner: { id: string; key: string }
  let other: string
  let id: string

  async function call(method: string, url: string, key: string, body?: unknown) {
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${key}` },
      ...(body !== undefined ? { payload: body as object } : {}),
    })
    answers.push(res.body)
    return { status: res.statusCode, body: res.body ? res.json() : null }
  }
  const channelUrl = (name = 'telegram') => `/api/instances/${id}/channels/${name}`
  const exec = async (command: string) =>
    (await call('POST', `/api/instances/${id}/terminal/exec`, owner.key, { command, timeout_ms: 20_000 }))
      .body
  const waitReady = () =>
    waitFor(
      'the instance to be ready',
      async () => {
        const inst = await services.instances.get(asUser(owner.id), id)
        if (inst.status === 'error') throw new Error(`instance failed: ${inst.error}`)
        return inst.status === 'ready'
      },
      { timeoutMs: 300_000, intervalMs: 200 },
    )
  /** The gateway process's environment variable names, read inside the instance. */
  async function gatewayEnvNames(): Promise<string> {
    const pid = (await call('GET', `/api/instances/${id}/status`, owner.key)).body.gateway.pid
    return (await exec(`tr '\\0' '\\n' < /proc/${pid}/environ | cut -d= -f1`)).stdout
  }

  beforeAll(async () => {
    buildOnce()
    model = await startModelServer()
    dataDir = tempDataDir('clawport-channels-')
    const config = loadConfig({
      ...gatewayEnv(model.baseUrl, 'sk-upstream-channels'),
      CLAWPORT_DEFAULT_PLAN: 'free',
      CLAWPORT_DATA_DIR: dataDir,
      // Boots here share two cores with other suites' gateways.
      CLAWPORT_GATEWAY_READY_TIMEOUT_MS: '420000',
    })
    const sink = new Writable({
      write(chunk, _enc, done) {
        logText += String(chunk)
        done()
      },
    })
    const log = createLogger('debug', sink, { pretty: false })
    services = await createServices(config, log)
    app = await buildApp(services, log)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const user = await services.accounts.createUser({ email: 'bot-owner@example.com', plan: 'agent' })
    owner = { id: user.id, key: (await services.keys.create(user.id, 'test')).key }
    const stranger = await services.accounts.createUser({ email: 'stranger@example.com', plan: 'agent' })
    other = (await services.keys.create(stranger.id, 'test')).key
    id = (await services.instances.create(user, {})).id
    await waitReady()
  }, 480_000)

  afterAll(async () => {
    if (services && id) await services.instances.remove(asUser(owner.id), id).catch(() => {})
    await app?.close()
    await services?.close()
    await model?.close()
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
  })

  it('refuses bad settings with 422 and a clear code', async () => {
    const bad = async (name: string, body: unknown) =>
      (await call('PUT', channelUrl(name), owner.key, body)).body
    expect(await bad('telegram', { bot_token: 'not-a-token' })).toMatchObject({
      status: 422,
      code: 'validation_failed',
    })
    expect((await bad('telegram', { bot_token: 'not-a-token' })).message).toContain('bot_token')
    expect(await bad('telegram', { bot_token: BOT_TOKEN, colour: 'blue' })).toMatchObject({
      code: 'validation_failed',
    })
    expect(await bad('telegram', {})).toMatchObject({
      code: 'channel_settings_invalid',
      details: { field: 'bot_token' },
    })
    expect(await bad('telegram', { bot_token: BOT_TOKEN, dm_policy: 'allowlist' })).toMatchObject({
      code: 'channel_settings_invalid',
      details: { field: 'allow_from' },
    })
    expect(await bad('slack', { bot_token: BOT_TOKEN })).toMatchObject({
      status: 422,
      code: 'channel_unsupported',
      details: { available: ['telegram'] },
    })
    expect((await call('GET', `/api/instances/${id}/channels`, owner.key)).body).toEqual([])
  })

  it('starts the gateway without channels while the instance has none', async () => {
    expect(await gatewayEnvNames()).toMatch(/^OPENCLAW_SKIP_CHANNELS$/m)
  })

  it('stores a channel with its token sealed, shows only token_set, and asks for a restart', async () => {
    const put = await call('PUT', channelUrl(), owner.key, { bot_token: BOT_TOKEN })
    expect(put.status).toBe(201)
    expect(put.body).toMatchObject({
      name: 'telegram',
      token_set: true,
      state: 'restart_required',
      settings: { dm_policy: 'pairing', allow_from: [], group_policy: 'allowlist', require_mention: true },
    })
    expect(JSON.stringify(put.body)).not.toContain(TOKEN_SECRET)
    const row = await services.store.channels.get(id, 'telegram')
    expect(row?.secret_enc).toMatch(/^v1\./)
    expect(JSON.stringify(row)).not.toContain(TOKEN_SECRET)
    // A change without the token keeps the stored one.
    const change = await call('PUT', channelUrl(), owner.key, { require_mention: false })
    expect(change.status).toBe(200)
    expect(change.body).toMatchObject({ token_set: true, settings: { require_mention: false } })
  })

  it('shows another user nothing of the instance or its channel: 404', async () => {
    for (const [method, url, body] of [
      ['GET', `/api/instances/${id}/channels`],
      ['GET', channelUrl()],
      ['PUT', channelUrl(), { bot_token: BOT_TOKEN }],
      ['DELETE', channelUrl()],
      ['GET', `${channelUrl()}/pairing`],
      ['POST', `${channelUrl()}/pairing/abc/approve`],
    ] as const) {
      const res = await call(method, url, other, body)
      expect(res.status, `${method} ${url}`).toBe(404)
      expect(res.body.code).toBe('instance_not_found')
    }
    expect((await call('GET', channelUrl(), owner.key)).body.settings.require_mention).toBe(false)
  })

  it('runs the channel after a reboot; its unreachable service is reported as an error with a reason', async () => {
    expect((await call('POST', `/api/instances/${id}/reboot`, owner.key)).status).toBe(202)
    await waitReady()
    expect(await gatewayEnvNames()).not.toMatch(/^OPENCLAW_SKIP_CHANNELS$/m)
    let channel: any
    await waitFor(
      () => `the channel to report an error, now ${JSON.stringify(channel)}`,
      async () => {
        channel = (await call('GET', channelUrl(), owner.key)).body
        return channel.state === 'error'
      },
      { timeoutMs: 120_000, intervalMs: 2_000 },
    )
    expect(channel).toMatchObject({ state: 'error', token_set: true })
    // No route out: the egress policy (network off) is what the channel ran into.
    expect(channel.reason).toMatch(/ENETUNREACH|EAI_AGAIN|fetch failed|network/i)
    const list = (await call('GET', `/api/instances/${id}/channels`, owner.key)).body
    expect(list).toHaveLength(1)
    expect(list[0]).toMatchObject({ name: 'telegram', state: 'error' })
  }, 600_000)

  it('lists pending pairing requests and refuses an unknown one', async () => {
    const pending = await call('GET', `${channelUrl()}/pairing`, owner.key)
    expect(pending).toEqual({ status: 200, body: [] })
    const approve = await call('POST', `${channelUrl()}/pairing/no-such-request/approve`, owner.key)
    expect(approve.status).toBe(404)
    expect(approve.body.code).toBe('pairing_request_not_found')
    const dismiss = await call('POST', `${channelUrl()}/pairing/no-such-request/dismiss`, owner.key)
    expect(dismiss.body.code).toBe('pairing_request_not_found')
  })

  it('never shows the token in an answer or a log, outside the config the channel reads', async () => {
    for (const a of answers) expect(a).not.toContain(TOKEN_SECRET)
    expect(logText.length).toBeGreaterThan(0)
    expect(logText).not.toContain(TOKEN_SECRET)
    const inside = await exec(`grep -rlF '${TOKEN_SECRET}' ~/.openclaw/logs || true`)
    expect(inside.stdout.trim()).toBe('')
    const config = await exec(`grep -cF '${TOKEN_SECRET}' ~/.openclaw/openclaw.json`)
    expect(config.stdout.trim()).toBe('1')
  })

  it('is driven from the CLI, the token read from stdin and never printed', async () => {
    const address = app.server.address() as { port: number }
    const cli = (args: string[], input?: string) =>
      runNode(CLI, args, { env: clientEnv(`http://127.0.0.1:${address.port}`, owner.key, id), input })
    const list = await cli(['channels', 'list', '--json'])
    expect(list.code, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout)).toMatchObject([{ name: 'telegram', token_set: true, state: 'error' }])
    const set = await cli(['channels', 'set', 'telegram', '--token', '-', '--dm-policy', 'open'], BOT_TOKEN)
    expect(set.code, set.stderr).toBe(0)
    expect(set.stdout).toContain('restart_required')
    const refused = await cli(['channels', 'approve', 'telegram', 'no-such-request'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('HTTP 409')
    for (const r of [list, set, refused]) expect(r.stdout + r.stderr).not.toContain(TOKEN_SECRET)
    expect((await call('GET', channelUrl(), owner.key)).body.settings.dm_policy).toBe('open')
  })

  it('deletes a channel; deleting the instance takes its channels along', async () => {
    expect((await call('DELETE', channelUrl(), owner.key)).status).toBe(204)
    expect((await call('GET', channelUrl(), owner.key)).body.code).toBe('channel_not_found')
    expect((await call('DELETE', channelUrl(), owner.key)).body.code).toBe('channel_not_found')
    expect((await call('GET', `/api/instances/${id}/channels`, owner.key)).body).toEqual([])
    expect((await call('PUT', channelUrl(), owner.key, { bot_token: BOT_TOKEN })).status).toBe(201)
    await services.instances.remove(asUser(owner.id), id)
    expect(await services.store.channels.list(id)).toEqual([])
    id = ''
  }, 60_000)
})
