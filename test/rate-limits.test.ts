import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcess, inProcess } from './helpers/app.js'

const ONE = '3b1f8a52-9a43-4c1e-9a57-2f4d1c0e7a11'
const TWO = '0c7e9a3b-5d2f-4e61-8b4a-9f1d2e3c4b5a'

describe('rate limits per instance (in process)', () => {
  let t: InProcess
  let keyA: string
  let keyB: string
  let stranger: string

  beforeAll(async () => {
    t = await inProcess({ CLAWPORT_INSTANCE_RATE_LIMIT_PER_MIN: '3', CLAWPORT_RATE_LIMIT_PER_MIN: '100' })
    const owner = await t.services.accounts.createUser({ email: 'owner@example.com', plan: 'pro' })
    keyA = (await t.services.keys.create(owner.id, 'a')).key
    keyB = (await t.services.keys.create(owner.id, 'b')).key
    stranger = await t.user('stranger@example.com', 'pro')
  })
  afterAll(() => t.close())

  it('counts exec, file and chat requests on one instance across keys; 429 rate_limited with Retry-After', async () => {
    await t.inject('POST', `/api/instances/${ONE}/terminal/exec`, keyA, { command: 'true' })
    await t.inject('GET', `/api/instances/${ONE}/files?path=/workspace`, keyA)
    await t.inject('GET', `/api/instances/${ONE}/chat/sessions`, keyB)
    const over = await t.inject('POST', `/api/instances/${ONE}/files/write`, keyB, { path: 'a', content: '' })
    expect(over.status).toBe(429)
    expect(over.body).toMatchObject({ code: 'rate_limited', status: 429 })
    const retry = Number(over.headers['retry-after'])
    expect(retry).toBeGreaterThanOrEqual(1)
    expect(retry).toBeLessThanOrEqual(60)
  })

  it('leaves other instances, other routes and other users alone', async () => {
    expect((await t.inject('GET', `/api/instances/${TWO}/files`, keyA)).status).toBe(404)
    // The instance itself (status, lifecycle) is not an exec, file or chat route.
    expect((await t.inject('GET', `/api/instances/${ONE}`, keyA)).status).toBe(404)
    // A stranger naming the id spends only its own budget (and learns nothing: 404).
    expect((await t.inject('GET', `/api/instances/${ONE}/files`, stranger)).status).toBe(404)
  })
})
