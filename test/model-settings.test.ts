import dns from 'node:dns/promises'
import fs from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPrivateAddress } from '../src/broker/egress.js'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { type InProcess, inProcess } from './helpers/app.js'

describe('model settings per user', () => {
  let t: InProcess
  let key: string

  beforeAll(async () => {
    t = await inProcess({
      CLAWPORT_LLM_BASE_URL: 'http://127.0.0.1:9/v1',
      CLAWPORT_LLM_MODEL: 'op-model',
      CLAWPORT_LLM_API_KEY: 'sk-operator',
    })
    key = await t.user('models@example.com', 'pro')
  })
  afterAll(() => t?.close())

  it("says the operator's model applies until the user sets their own, never a key", async () => {
    const view = await t.inject('GET', '/api/me/model', key)
    // The operator's URL and model are the server's configuration: administrators only.
    expect(view.body).toEqual({
      source: 'operator',
      base_url: null,
      model: null,
      api_key_set: false,
      embedding_model: null,
      embedding_source: 'none',
    })
    const admin = await t.services.accounts.createUser({ email: 'models-admin@example.com', admin: true })
    const adminKey = (await t.services.keys.create(admin.id, 'test')).key
    expect((await t.inject('GET', '/api/me/model', adminKey)).body).toMatchObject({
      source: 'operator',
      base_url: 'http://127.0.0.1:9/v1',
      model: 'op-model',
      api_key_set: true,
    })
    const put = await t.inject('PUT', '/api/me/model', key, {
      base_url: 'https://llm.example.com/v1/',
      model: 'mine',
      api_key: 'sk-user-secret-123',
    })
    expect(put.status).toBe(200)
    expect(put.body).toEqual({
      source: 'user',
      base_url: 'https://llm.example.com/v1',
      model: 'mine',
      api_key_set: true,
      embedding_model: null,
      embedding_source: 'none',
    })
    expect(JSON.stringify(put.body)).not.toContain('sk-user')
    const user = await t.services.store.users.byEmail('models@example.com')
    const up = await t.services.broker.upstreamFor(user?.id as string)
    expect(up).toMatchObject({
      baseUrl: 'https://llm.example.com/v1',
      model: 'mine',
      apiKey: 'sk-user-secret-123',
      source: 'user',
    })
    const cleared = await t.inject('DELETE', '/api/me/model', key)
    expect(cleared.body).toMatchObject({ source: 'operator', base_url: null, model: null })
  })

  it('keeps the saved key when saving again without one, for the same URL only', async () => {
    const id = (await t.services.store.users.byEmail('models@example.com'))?.id as string
    await t.inject('PUT', '/api/me/model', key, {
      base_url: 'https://llm.example.com/v1',
      model: 'mine',
      api_key: 'sk-user-kept-789',
    })
    const again = await t.inject('PUT', '/api/me/model', key, {
      base_url: 'https://llm.example.com/v1',
      model: 'other',
    })
    expect(again.body).toMatchObject({ source: 'user', model: 'other', api_key_set: true })
    expect(await t.services.broker.upstreamFor(id)).toMatchObject({
      model: 'other',
      apiKey: 'sk-user-kept-789',
    })
    const moved = await t.inject('PUT', '/api/me/model', key, {
      base_url: 'https://other.example.com/v1',
      model: 'x',
    })
    expect(moved.body).toMatchObject({ source: 'user', api_key_set: false })
    expect((await t.services.broker.upstreamFor(id))?.apiKey).toBeUndefined()
    await t.inject('DELETE', '/api/me/model', key)
  })

  it('stores the key encrypted with a 0600 key file in the data folder', async () => {
    await t.inject('PUT', '/api/me/model', key, {
      base_url: 'https://llm.example.com/v1',
      model: 'mine',
      api_key: 'sk-user-secret-456',
    })
    const user = await t.services.store.users.byEmail('models@example.com')
    const row = await t.services.store.userSettings.get(user?.id as string)
    expect(row?.llm_api_key_enc).toMatch(/^v1\./)
    expect(row?.llm_api_key_enc).not.toContain('sk-user')
    expect(fs.readFileSync(path.join(t.dataDir, 'clawport.db')).includes('sk-user-secret-456')).toBe(false)
    expect(fs.statSync(path.join(t.dataDir, 'secret.key')).mode & 0o777).toBe(0o600)
  })

  it('refuses a base URL that is not http(s)', async () => {
    const res = await t.inject('PUT', '/api/me/model', key, { base_url: 'file:///etc/passwd', model: 'x' })
    expect(res.status).toBe(422)
  })

  it('reports token usage', async () => {
    const res = await t.inject('GET', '/api/me/usage', key)
    expect(res.body).toEqual({ calls: 0, prompt_tokens: 0, completion_tokens: 0 })
  })
})

describe('a model URL a user sets reaches only public addresses', () => {
  let t: InProcess
  let open: InProcess
  let model: ModelServer
  let door: Server
  let doorUrl: string
  /** A name (not an address literal) that resolves to this host: only a lookup can tell. */
  const hostName = os.hostname()

  beforeAll(async () => {
    model = await startModelServer()
    t = await inProcess()
    open = await inProcess({ CLAWPORT_MODEL_PRIVATE_URLS: 'allow' })
    // Calls into the broker the way an instance's door makes them, for a user of either server.
    door = createServer((req, res) => {
      const [server, userId] = String(req.headers['x-test-caller']).split(':') as [string, string]
      const target = server === 'open' ? open : t
      void target.services.broker.handle({ instanceId: 'test-instance', userId }, req, res, req.url ?? '/')
    })
    await new Promise<void>((resolve) => door.listen(0, '127.0.0.1', resolve))
    doorUrl = `http://127.0.0.1:${(door.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    door?.close()
    await Promise.all([t?.close(), open?.close(), model?.close()])
  })

  it('refuses loopback, private, link-local and mapped addresses when saved, and saves nothing', async () => {
    const key = await t.user('ssrf@example.com', 'pro')
    for (const base_url of [
      'http://127.0.0.1:8080/v1',
      'http://localhost:11434/v1',
      'http://LOCALHOST./v1',
      'http://api.localhost/v1',
      'http://[::1]:8080/v1',
      'http://[::ffff:127.0.0.1]/v1',
      'http://10.1.2.3/v1',
      'http://192.168.1.20/v1',
      'http://169.254.169.254/latest/meta-data',
      'http://0.0.0.0:8080/v1',
      'http://[fd00::1]/v1',
      // The same addresses spelled so that a text match would miss them.
      'http://[::127.0.0.1]/v1',
      'http://[::ffff:7f00:1]/v1',
      'http://[0:0:0:0:0:ffff:127.0.0.1]/v1',
      'http://[::ffff:0:127.0.0.1]/v1',
      'http://[64:ff9b::127.0.0.1]/v1',
      'http://0x7f.1/v1',
      'http://2130706433/v1',
      'http://127.1/v1',
      'http://0177.0.0.1/v1',
      'http://127.0.0.1./v1',
      'http://0/v1',
      'http://[::]/v1',
      'http://100.64.0.1/v1',
      'https://[fe80::1]/v1',
    ]) {
      const res = await t.inject('PUT', '/api/me/model', key, { base_url, model: 'm' })
      expect(res.status, base_url).toBe(422)
      expect(res.body).toMatchObject({ code: 'model_url_not_allowed', status: 422 })
      const test = await t.inject('POST', '/api/me/model/test', key, { base_url, model: 'm' })
      expect(test.status, base_url).toBe(422)
    }
    expect((await t.inject('GET', '/api/me/model', key)).body.source).toBe('none')
  })

  it('refuses a name that resolves to a private address at connect time', async () => {
    const { address } = await dns.lookup(hostName)
    expect(isPrivateAddress(address)).toBe(true)
    const key = await t.user('ssrf-dns@example.com', 'pro')
    const base_url = `http://${hostName}:${new URL(model.url).port}/v1`
    const test = await t.inject('POST', '/api/me/model/test', key, { base_url, model: 'scripted' })
    expect(test.status).toBe(200)
    expect(test.body).toMatchObject({ ok: false, status: null })
    expect(test.body.message).toMatch(/private, loopback or link-local/)

    // Saved by a name, which only the connection can judge: the broker refuses to call it.
    expect((await t.inject('PUT', '/api/me/model', key, { base_url, model: 'scripted' })).status).toBe(200)
    const before = model.requests.length
    const user = await t.services.store.users.byEmail('ssrf-dns@example.com')
    const res = await fetch(`${doorUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-test-caller': `strict:${user?.id}` },
      body: JSON.stringify({ model: 'scripted', messages: [{ role: 'user', content: 'hi' }] }),
    })
    expect(res.status).toBe(502)
    expect(await res.json()).toMatchObject({ error: { code: 'upstream_unreachable' } })
    expect(model.requests.length).toBe(before)
  })

  it('lets an operator allow private addresses on a single-user host', async () => {
    const key = await open.user('local@example.com', 'pro')
    const put = await open.inject('PUT', '/api/me/model', key, { base_url: model.baseUrl, model: 'scripted' })
    expect(put.status).toBe(200)
    const test = await open.inject('POST', '/api/me/model/test', key, {})
    expect(test.body.message).not.toMatch(/private/)
    expect(test.body.status).toBe(200)
    const user = await open.services.store.users.byEmail('local@example.com')
    const before = model.requests.length
    const res = await fetch(`${doorUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-test-caller': `open:${user?.id}` },
      body: JSON.stringify({ model: 'scripted', messages: [{ role: 'user', content: 'hi' }] }),
    })
    expect(res.status).toBe(200)
    expect(model.requests.length).toBe(before + 1)
  })
})
