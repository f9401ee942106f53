import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TurnEvent } from '../src/core/agent.js'
import { asUser } from '../src/core/scope.js'
import type { UserRow } from '../src/store/index.js'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { gatewayEnv } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { toolEvents } from './helpers/tools.js'

const UPSTREAM_KEY = 'sk-upstream-memory-5d8Qw2'
/** A fact only the memory file holds. */
const FACT = 'The launch code for project Zephyr is PLUM-4471.'

async function collect(events: AsyncIterable<TurnEvent>): Promise<TurnEvent[]> {
  const out: TurnEvent[] = []
  for await (const e of events) out.push(e)
  return out
}

/**
 * The agent's memory in a real gateway: a note written in the instance's workspace is found by
 * the `memory_search` tool in a turn the scripted model drives, by keyword without an embedding
 * model, and through the broker's embeddings (metered) with one.
 */
describe('memory_search in a real gateway', () => {
  let t: InProcess
  let model: ModelServer
  const made: Array<{ userId: string; id: string }> = []

  beforeAll(async () => {
    buildOnce()
    model = await startModelServer()
    // Users may point at the scripted model on this host for their own embedding model.
    t = await inProcess(
      gatewayEnv(model.baseUrl, UPSTREAM_KEY, {
        CLAWPORT_MODEL_PRIVATE_URLS: 'allow',
        // Two cores shared with other work: a gateway may take minutes to boot.
        CLAWPORT_GATEWAY_READY_TIMEOUT_MS: '400000',
      }),
    )
  }, 60_000)

  afterAll(async () => {
    for (const m of made) await t?.services.instances.remove(asUser(m.userId), m.id).catch(() => {})
    await t?.close()
    await model?.close()
  })

  /** A ready instance of a new user, with the note in its workspace's memory folder. */
  const instanceWithNote = async (email: string, embedding?: string) => {
    const key = await t.user(email, 'agent')
    const user = (await t.services.store.users.byEmail(email)) as UserRow
    if (embedding) {
      const put = await t.inject('PUT', '/api/me/model', key, {
        base_url: model.baseUrl,
        model: 'test-model',
        api_key: UPSTREAM_KEY,
        embedding_model: embedding,
      })
      expect(put.status).toBe(200)
    }
    const started = Date.now()
    const { id } = await t.services.instances.create(user, {})
    made.push({ userId: user.id, id })
    for (;;) {
      const inst = await t.services.instances.get(asUser(user.id), id)
      if (inst.status === 'ready') break
      if (inst.status === 'error') throw new Error(`instance failed: ${inst.error}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    const status = (await t.inject('GET', `/api/instances/${id}/status`, key)).body
    const rss = await t.inject('POST', `/api/instances/${id}/terminal/exec`, key, {
      command: `ps -o rss= -p ${status.gateway.pid}`,
    })
    console.log(
      `${email}: ready in ${Date.now() - started} ms (gateway ${status.gateway.ready_ms} ms), gateway RSS ${Math.round(Number(rss.body.stdout) / 1024)} MiB`,
    )
    const write = await t.inject('POST', `/api/instances/${id}/files/write`, key, {
      path: 'memory/projects.md',
      content: `# Projects\n\n${FACT}\n\nThe garden needs watering on Sundays.\n`,
    })
    expect(write.status).toBe(200)
    return { key, userId: user.id, id }
  }

  const search = (id: string, query: string) =>
    collect(
      t.services.agent.runTurn({
        instanceId: id,
        sessionKey: 'memory',
        message: `call: memory_search ${JSON.stringify({ query })}`,
        signal: new AbortController().signal,
      }),
    )

  it('finds a note by keyword without an embedding model', async () => {
    const { id } = await instanceWithNote('keywords@example.com')
    const before = model.requests.filter((r) => r.path === '/v1/embeddings').length
    const events = await search(id, 'Zephyr launch code')

    const tools = toolEvents(events, 'memory_search')
    expect(tools[0]).toMatchObject({ status: 'started' })
    expect(tools.at(-1)).toMatchObject({ status: 'completed' })
    expect(String(tools.at(-1)?.result)).toContain('PLUM-4471')
    const done = events.at(-1) as { type: string; text: string }
    expect(done.type).toBe('done')
    expect(done.text).toContain('PLUM-4471')
    expect(done.text).toContain('projects.md')
    // Keyword-only: nothing asked the embeddings endpoint.
    expect(model.requests.filter((r) => r.path === '/v1/embeddings').length).toBe(before)
  }, 600_000)

  it('searches through the broker’s embeddings when the user has an embedding model, metered', async () => {
    const { id, userId } = await instanceWithNote('semantic@example.com', 'test-embedding')
    const events = await search(id, 'What is the Zephyr launch code?')
    expect(toolEvents(events, 'memory_search').at(-1)).toMatchObject({ status: 'completed' })
    const done = events.at(-1) as { type: string; text: string }
    expect(done.type).toBe('done')
    expect(done.text).toContain('PLUM-4471')
    const embedded = model.requests.filter((r) => r.path === '/v1/embeddings')
    expect(embedded.length).toBeGreaterThan(0)
    // The broker sent the user's model and key; the instance sent neither.
    expect(embedded.every((r) => r.body.model === 'test-embedding')).toBe(true)
    expect(embedded.at(-1)?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`)
    expect(JSON.stringify(embedded.map((r) => r.body.input))).toContain('PLUM-4471')
    const rows = await t.services.store.usage.list({ userId }, 100)
    const metered = rows.filter((r) => r.model === 'test-embedding')
    expect(metered.length).toBeGreaterThan(0)
    expect(metered.every((r) => r.instance_id === id && r.status === 'ok')).toBe(true)
    expect(metered.reduce((n, r) => n + r.prompt_tokens, 0)).toBeGreaterThan(0)
  }, 600_000)
})
