import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EMBEDDING_DIMS, type ModelServer, startModelServer } from './fixtures/model-server.js'
import { type InProcess, inProcess } from './helpers/app.js'

/**
 * The broker's `POST /v1/embeddings`, called the way an instance's door calls it: the
 * operator's or the user's embedding model, their key added outside the instance, metered.
 */
describe('embeddings through the model broker', () => {
  let model: ModelServer
  /** The operator serves embeddings; `plain` serves chat only; `open` lets users use private URLs. */
  let t: InProcess
  let plain: InProcess
  let open: InProcess
  let door: Server
  let doorUrl: string

  const call = (server: string, userId: string, path: string, body?: unknown) =>
    fetch(`${doorUrl}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json', 'x-test-caller': `${server}:${userId}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
  const userId = async (s: InProcess, email: string) => {
    await s.user(email, 'pro')
    return (await s.services.store.users.byEmail(email))?.id as string
  }

  beforeAll(async () => {
    model = await startModelServer()
    const llm = {
      CLAWPORT_LLM_BASE_URL: model.baseUrl,
      CLAWPORT_LLM_MODEL: 'test-model',
      CLAWPORT_LLM_API_KEY: 'sk-operator-chat',
    }
    t = await inProcess({ ...llm, CLAWPORT_EMBEDDING_MODEL: 'test-embedding' })
    plain = await inProcess(llm)
    open = await inProcess({ ...llm, CLAWPORT_MODEL_PRIVATE_URLS: 'allow' })
    const servers: Record<string, InProcess> = { op: t, plain, open }
    door = createServer((req, res) => {
      const [server, id] = String(req.headers['x-test-caller']).split(':') as [string, string]
      void servers[server]?.services.broker.handle(
        { instanceId: `inst-${server}`, userId: id },
        req,
        res,
        req.url ?? '/',
      )
    })
    await new Promise<void>((resolve) => door.listen(0, '127.0.0.1', resolve))
    doorUrl = `http://127.0.0.1:${(door.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    door?.close()
    await Promise.all([t?.close(), plain?.close(), open?.close(), model?.close()])
  })

  it('serves the operator’s embedding model under the alias, with its key, and meters the call', async () => {
    const id = await userId(t, 'embed@example.com')
    const models = await (await call('op', id, '/v1/models')).json()
    expect(models.data.map((m: { id: string }) => m.id)).toEqual(['default', 'embedding'])
    const res = await call('op', id, '/v1/embeddings', {
      model: 'embedding',
      input: ['the gateway host', 'a red bicycle'],
    })
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(body.data).toHaveLength(2)
    expect(body.data[0].embedding).toHaveLength(EMBEDDING_DIMS)
    const sent = model.requests.at(-1)
    expect(sent).toMatchObject({ path: '/v1/embeddings', body: { model: 'test-embedding' } })
    // Same URL as the chat model: its key goes along.
    expect(sent?.headers.authorization).toBe('Bearer sk-operator-chat')
    const rows = await t.services.store.usage.list({ instanceId: 'inst-op' }, 10)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ model: 'test-embedding', status: 'ok', prompt_tokens: 6, user_id: id })
    expect((await t.services.store.usage.totals({ userId: id })).prompt_tokens).toBe(6)
    const view = await t.inject('GET', '/api/me/model', await t.user('embed-view@example.com', 'pro'))
    expect(view.body).toMatchObject({ embedding_model: 'test-embedding', embedding_source: 'operator' })
  })

  it('answers embedding_model_not_configured when none is set, and lists none', async () => {
    const id = await userId(plain, 'noembed@example.com')
    const models = await (await call('plain', id, '/v1/models')).json()
    expect(models.data.map((m: { id: string }) => m.id)).toEqual(['default'])
    const before = model.requests.length
    const res = await call('plain', id, '/v1/embeddings', { model: 'embedding', input: 'x' })
    expect(res.status).toBe(503)
    const body = await res.json()
    expect(body.error.code).toBe('embedding_model_not_configured')
    expect(body.error.message).toContain('CLAWPORT_EMBEDDING_MODEL')
    expect(model.requests.length).toBe(before)
    // Bad input is a clear 400, not a failure.
    const bad = await fetch(`${doorUrl}/v1/embeddings`, {
      method: 'POST',
      headers: { 'x-test-caller': `op:${id}` },
      body: 'not json',
    })
    expect(bad.status).toBe(400)
    expect((await bad.json()).error.code).toBe('invalid_request')
  })

  it('serves a user’s own embedding model at their URL with their key', async () => {
    const key = await open.user('own@example.com', 'pro')
    const put = await open.inject('PUT', '/api/me/model', key, {
      base_url: model.baseUrl,
      model: 'my-chat',
      api_key: 'sk-user-own-77',
      embedding_model: 'my-embedding',
    })
    expect(put.status).toBe(200)
    expect(put.body).toMatchObject({ embedding_model: 'my-embedding', embedding_source: 'user' })
    expect(JSON.stringify(put.body)).not.toContain('sk-user')
    const id = (await open.services.store.users.byEmail('own@example.com'))?.id as string
    const models = await (await call('open', id, '/v1/models')).json()
    expect(models.data.map((m: { id: string }) => m.id)).toContain('embedding')
    const res = await call('open', id, '/v1/embeddings', { model: 'embedding', input: 'hello world' })
    expect(res.status).toBe(200)
    expect(model.requests.at(-1)?.body.model).toBe('my-embedding')
    expect(model.requests.at(-1)?.headers.authorization).toBe('Bearer sk-user-own-77')
    const rows = await open.services.store.usage.list({ userId: id }, 10)
    expect(rows[0]).toMatchObject({ model: 'my-embedding', prompt_tokens: 2, status: 'ok' })
  })

  it('holds a user’s embedding URL to the same egress rules as chat', async () => {
    const key = await t.user('ssrf-embed@example.com', 'pro')
    // A name that resolves to this host: saved, but refused when the call connects.
    const base_url = `http://${os.hostname()}:${new URL(model.url).port}/v1`
    const put = await t.inject('PUT', '/api/me/model', key, {
      base_url,
      model: 'scripted',
      embedding_model: 'scripted-embedding',
    })
    expect(put.status).toBe(200)
    const id = (await t.services.store.users.byEmail('ssrf-embed@example.com'))?.id as string
    const before = model.requests.length
    const res = await call('op', id, '/v1/embeddings', { model: 'embedding', input: 'secret' })
    expect(res.status).toBe(502)
    expect((await res.json()).error.code).toBe('upstream_unreachable')
    expect(model.requests.length).toBe(before)
    const rows = await t.services.store.usage.list({ userId: id }, 10)
    expect(rows[0]).toMatchObject({ model: 'scripted-embedding', status: 'error' })
  })
})
