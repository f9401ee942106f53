import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../src/http/json-depth.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'
import { insertInstanceRow } from './helpers/rows.js'

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`

describe('nestsDeeperThan', () => {
  it('counts arrays and objects, not brackets inside strings', () => {
    expect(nestsDeeperThan(nested(3), 3)).toBe(false)
    expect(nestsDeeperThan(nested(4), 3)).toBe(true)
    expect(nestsDeeperThan('{"a":{"b":[1,{"c":2}]}}', 4)).toBe(false)
    expect(nestsDeeperThan('{"a":{"b":[1,{"c":2}]}}', 3)).toBe(true)
    expect(nestsDeeperThan(`{"s":"${'['.repeat(500)}"}`, 2)).toBe(false)
    expect(nestsDeeperThan(`{"s":"a\\"${'{'.repeat(500)}"}`, 2)).toBe(false)
  })
})

/** Deeply nested JSON bodies are refused before anything recursive touches them. */
describe('JSON nesting depth of request bodies', () => {
  let t: InProcess
  let key: string
  let pipelineId: string
  let webhookPath: string

  beforeAll(async () => {
    t = await inProcess(TEST_ENV)
    key = await t.user('deep@example.com', 'pro')
    const user = await t.services.accounts.userByEmail('deep@example.com')
    const instanceId = await insertInstanceRow(t.services.store, user.id)
    const created = await t.inject('POST', '/api/pipelines', key, {
      name: 'deep',
      webhook: true,
      steps: [{ name: 'one', type: 'exec', instance_id: instanceId, command: 'echo {{input}}' }],
    })
    expect(created.status).toBe(201)
    pipelineId = created.body.id
    webhookPath = new URL(created.body.webhook_url, 'http://x').pathname
  })
  afterAll(() => t?.close())

  const deepInput = () => `{"x":${nested(50_000)}}`

  it('answers 400 body_too_deep to a 50,000-deep pipeline input, not a 500', async () => {
    const res = await t.inject('POST', `/api/pipelines/${pipelineId}/runs`, key, deepInput(), {
      'content-type': 'application/json',
    })
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({
      code: 'body_too_deep',
      status: 400,
      details: { max_depth: MAX_JSON_DEPTH },
    })
  })

  it('refuses it on the public webhook too', async () => {
    const res = await t.inject('POST', webhookPath, null, deepInput(), { 'content-type': 'application/json' })
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('body_too_deep')
  })

  it('takes an input nested up to the limit', async () => {
    const input = JSON.parse(`{"x":${nested(MAX_JSON_DEPTH - 1)}}`)
    const res = await t.inject('POST', `/api/pipelines/${pipelineId}/runs`, key, input)
    expect(res.status).toBe(202)
    expect(JSON.stringify(res.body.input)).toBe(JSON.stringify(input))
  })
})
