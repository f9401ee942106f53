import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { gatewayEnv } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'
import { parseSse } from './helpers/sse.js'
import { waitFor } from './helpers/wait.js'

const SKILL = 'node /workspace/skills/clawport/clawport.mjs'

/**
 * A swarm of two real instances with real OpenClaw gateways (the scripted model behind the
 * broker): members learn their roles through the inbox, answer a broadcast, and one member's
 * agent uses its clawport skill to list its siblings and have another member run a command.
 * Two gateways is the whole budget of this file: a lead and a worker cover every role path.
 */
describe('a swarm of real OpenClaw instances', () => {
  let s: TestServer
  let model: ModelServer
  let key: string
  let swarm: any
  let a: string
  let b: string

  beforeAll(async () => {
    buildOnce()
    model = await startModelServer()
    s = await startServer(
      // One gateway boots at a time: several at once starve two cores.
      gatewayEnv(model.baseUrl, 'sk-upstream-swarm-test', { CLAWPORT_BOOT_CONCURRENCY: '1' }),
    )
    key = await s.user('swarm@example.com', 'agent')
    const res = await s.api('POST', '/api/swarms', {
      key,
      body: {
        name: 'crew',
        members: [{ role: 'lead', instructions: 'Coordinate the others.' }, { role: 'worker' }],
      },
    })
    if (res.status !== 201) throw new Error(`swarm create failed: ${res.status} ${JSON.stringify(res.body)}`)
    swarm = res.body
    a = swarm.members[0].instance_id
    b = swarm.members[1].instance_id
    for (const m of swarm.members) await s.waitStatus(m.instance_id, 'ready', key, 420_000)
  }, 480_000)

  afterAll(async () => {
    await s?.destroy()
    await model?.close()
  })

  it('creates the members within the plan and tells each its role', async () => {
    expect(swarm.members.map((m: any) => [m.position, m.role, m.name])).toEqual([
      [0, 'lead', 'crew-1'],
      [1, 'worker', 'crew-2'],
    ])
    // The plan allows three instances: growing to four is refused, and nothing is created.
    const more = await s.api('POST', `/api/swarms/${swarm.id}/scale`, { key, body: { size: 4 } })
    expect(more.status).toBe(403)
    expect(more.body.code).toBe('instance_limit_reached')
    expect((await s.api('GET', '/api/instances', { key })).body).toHaveLength(2)
    const intro = await waitFor(
      "the lead's reply to its introduction",
      async () => {
        const list = (await s.api('GET', `/api/instances/${a}/inbox`, { key })).body
        const m = list.find((x: any) => x.sender === 'swarm')
        return m?.status === 'replied' ? m : undefined
      },
      { timeoutMs: 120_000 },
    )
    expect(intro.message).toContain('role: lead')
    expect(intro.reply).toContain('echo:')
    const who = await s.exec(a, `${SKILL} whoami`, {}, key)
    expect(JSON.parse(who.stdout).swarm).toMatchObject({ id: swarm.id, name: 'crew', role: 'lead', size: 2 })
  }, 180_000)

  it('answers a broadcast from every member, each reply streamed as it arrives', async () => {
    const res = await fetch(`${s.url}/api/swarms/${swarm.id}/broadcast`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        accept: 'text/event-stream',
      },
      body: JSON.stringify({ message: 'report your status' }),
    })
    expect(res.status).toBe(200)
    const events = parseSse(await res.text())
    const replies = events.filter((e) => e.event === 'reply')
    expect(replies.map((e) => e.data.instance_id).sort()).toEqual(
      swarm.members.map((m: any) => m.instance_id).sort(),
    )
    for (const r of replies)
      expect(r.data).toMatchObject({ status: 'replied', reply: 'echo: report your status' })
    const done = events.at(-1)
    expect(done?.event).toBe('done')
    expect(done?.data).toMatchObject({ replied: 2, failed: 0, pending: 0 })
  }, 180_000)

  it('lets an agent list its siblings and have another instance run a command, attributed to it', async () => {
    const ask = `run-wait: ${SKILL} siblings && ${SKILL} ask crew-2 "run: echo from-b-$((6*7))"`
    const res = await s.api('POST', `/api/instances/${a}/chat`, { key, body: { message: ask } })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    const answer = res.body.message.content as string
    expect(answer).toContain(b)
    expect(answer).toContain('role: worker')
    expect(answer).toContain('ran: from-b-42')
    // B's history has the message, from A.
    const sessions = (await s.api('GET', `/api/instances/${b}/chat/sessions`, { key })).body
    const fromA = sessions.find((x: any) => x.title === `From instance ${a}`)
    expect(fromA).toMatchObject({ title: `From instance ${a}`, id: expect.any(String) })
    const msgs = (await s.api('GET', `/api/instances/${b}/chat/messages?session_id=${fromA.id}`, { key }))
      .body
    expect(msgs[0]).toMatchObject({ role: 'user', content: 'run: echo from-b-42', from_instance: a })
    expect(msgs.at(-1)).toMatchObject({ role: 'assistant', content: 'ran: from-b-42' })
    // OpenClaw loaded the workspace skill into the agent's prompt.
    const prompts = model.requests.map((r) => JSON.stringify(r.body.messages?.[0] ?? ''))
    expect(prompts.some((p) => p.includes('clawport'))).toBe(true)
  }, 180_000)
})
