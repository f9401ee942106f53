import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closeInterruptedTurns } from '../src/core/chat/recovery.js'
import { asUser } from '../src/core/scope.js'
import { nowIso } from '../src/core/time.js'
import { createLogger } from '../src/log.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'
import { insertInstanceRow } from './helpers/rows.js'

/**
 * What a restart finds in the store after a kill -9, written the way a turn writes it, and how
 * it is closed. The real crash, with a real gateway, is in faults.test.ts.
 */
describe('closing interrupted turns at start (in process)', () => {
  let t: InProcess
  let userId: string
  let id: string
  const log = createLogger('silent')

  const events = (session: string) => t.services.chat.events.list(id, 0, session, 100)
  const append = (session: string, type: string, data: Record<string, unknown>) =>
    t.services.chat.events.append(id, session, type, data)
  const session = async () => (await t.services.chat.createSession(asUser(userId), id, {})).id

  beforeAll(async () => {
    t = await inProcess(TEST_ENV)
    await t.user('recover@example.com', 'pro')
    userId = (await t.services.accounts.userByEmail('recover@example.com')).id
    id = await insertInstanceRow(t.services.store, userId)
  })
  afterAll(() => t.close())

  it('ends open turns once: partial text kept, running tools failed, finished turns untouched', async () => {
    const finished = await session()
    await append(finished, 'session', { session_id: finished })
    await append(finished, 'delta', { text: 'done already' })
    await append(finished, 'done', { message: {} })

    const withText = await session()
    await append(withText, 'session', { session_id: withText })
    const tool = await t.services.store.chat.appendMessage({
      id: randomUUID(),
      session_id: withText,
      instance_id: id,
      role: 'tool',
      content: '',
      tool: { name: 'exec', arguments: null },
      status: 'running',
      created_at: nowIso(),
      updated_at: nowIso(),
    })
    await append(withText, 'delta', { text: 'half ' })
    await append(withText, 'tool', { name: 'exec', status: 'started', message_id: tool.id })
    await append(withText, 'delta', { text: 'way' })

    const silent = await session()
    // An earlier turn of the session ended; only its last one is open.
    await append(silent, 'session', { session_id: silent })
    await append(silent, 'error', { code: 'aborted', message: 'x' })
    await append(silent, 'session', { session_id: silent })

    expect(await closeInterruptedTurns(t.services.store, t.services.chat.events, log)).toBe(2)
    expect((await events(finished)).map((e) => e.type)).toEqual(['session', 'delta', 'done'])

    const closed = await events(withText)
    expect(closed.at(-1)).toMatchObject({
      type: 'error',
      data: {
        code: 'server_restarted',
        partial: { role: 'assistant', content: 'half way', status: 'error' },
      },
    })
    const messages = await t.services.chat.messages(asUser(userId), id, { session_id: withText, limit: 10 })
    expect(messages.map((m) => [m.role, m.status])).toEqual([
      ['tool', 'error'],
      ['assistant', 'error'],
    ])

    const end = (await events(silent)).at(-1)
    expect(end).toMatchObject({ type: 'error', data: { code: 'server_restarted' } })
    expect(end?.data.partial).toBeUndefined()

    // A second start finds nothing open.
    expect(await closeInterruptedTurns(t.services.store, t.services.chat.events, log)).toBe(0)
  })
})
