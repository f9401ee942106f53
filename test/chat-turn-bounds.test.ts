import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AgentRunner, TurnEvent } from '../src/core/agent.js'
import { ChatEventLog } from '../src/core/chat/event-log.js'
import { ChatTurn, DEFAULT_COALESCE, MAX_TURN_TEXT_CHARS } from '../src/core/chat/turn.js'
import { asUser } from '../src/core/scope.js'
import { createLogger } from '../src/log.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'

/**
 * An instance's agent is the instance's code: a hostile one streams without end. A turn keeps
 * at most a bounded answer and never reads the agent faster than the store writes.
 */
describe('a turn against an agent that never stops', () => {
  let t: InProcess
  let instanceId: string
  let userId: string
  let key: string

  beforeAll(async () => {
    t = await inProcess(TEST_ENV)
    const user = await t.services.accounts.createUser({ email: 'flood@example.com', plan: 'pro' })
    userId = user.id
    key = (await t.services.keys.create(user.id, 'test')).key
    const res = await t.inject('POST', '/api/instances', key, {})
    expect(res.status).toBe(201)
    instanceId = res.body.id
  })
  afterAll(async () => {
    if (instanceId) await t.inject('DELETE', `/api/instances/${instanceId}`, key)
    await t?.close()
  })

  it('ends the turn past the answer cap, with the store keeping up', async () => {
    const session = await t.services.chat.createSession(asUser(userId), instanceId, {})
    const store = t.services.store
    const row = await store.chat.listSessions(instanceId)
    const sessionKey = row.find((s) => s.id === session.id)?.session_key ?? 'flood'
    const now = new Date().toISOString()
    const user = await store.chat.appendMessage({
      id: `m-${Date.now()}`,
      from_instance: null,
      session_id: session.id,
      instance_id: instanceId,
      role: 'user',
      content: 'go',
      tool: null,
      status: 'complete',
      created_at: now,
      updated_at: now,
    })
    // Small deltas, each one write: without backpressure thousands would queue on the store.
    const chunk = 'x'.repeat(1024)
    let pulled = 0
    let pendingAtMost = 0
    const events = new ChatEventLog(store)
    let written = 0
    const append = events.append.bind(events)
    // Counts writes the store has not finished, as the agent is pulled.
    events.append = async (...args: Parameters<typeof append>) => {
      const r = await append(...args)
      written++
      return r
    }
    const runner: AgentRunner = {
      async *runTurn(): AsyncGenerator<TurnEvent> {
        for (;;) {
          pulled++
          pendingAtMost = Math.max(pendingAtMost, pulled - written)
          yield { type: 'delta', text: chunk }
        }
      },
    }
    const turn = new ChatTurn(
      { store, events, runner, log: createLogger('silent'), coalesce: { ...DEFAULT_COALESCE, maxChars: 1 } },
      {
        instanceId,
        sessionId: session.id,
        sessionKey,
        userMessage: {
          id: user.id,
          session_id: session.id,
          seq: user.seq,
          role: 'user',
          content: 'go',
          status: 'complete',
          created_at: now,
          updated_at: now,
        },
      },
    )
    const outcome = await turn.run()
    expect(outcome.ok).toBe(false)
    if (outcome.ok) return
    expect(outcome.code).toBe('agent_error')
    expect(outcome.error).toContain('grew past')
    // The agent was read only up to the cap, not for as long as it would stream.
    expect(pulled * chunk.length).toBeLessThanOrEqual(MAX_TURN_TEXT_CHARS + 2 * chunk.length)
    expect(outcome.partial?.content.length ?? 0).toBeLessThanOrEqual(MAX_TURN_TEXT_CHARS + chunk.length)
    // Never more than the turn's bound of writes waiting on the store.
    expect(pendingAtMost).toBeLessThanOrEqual(70)
  })
})
