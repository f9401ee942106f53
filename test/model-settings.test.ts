import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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

  it("shows the operator's model until the user sets their own, never a key", async () => {
    const view = await t.inject('GET', '/api/me/model', key)
    expect(view.body).toEqual({
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
    expect(cleared.body.source).toBe('operator')
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
