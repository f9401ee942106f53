import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AgentRunner, TurnEvent } from '../src/core/agent.js'
import { ChatService } from '../src/core/chat/chat-service.js'
import { ChatEventLog } from '../src/core/chat/event-log.js'
import {
  closeInterruptedTurns,
  closeStaleTurns,
  staleBefore,
  TURN_STALE_MS,
} from '../src/core/chat/recovery.js'
import type { InstanceService } from '../src/core/instances.js'
import { asUser } from '../src/core/scope.js'
import { PgBus } from '../src/core/shared/pg-bus.js'
import { createLogger } from '../src/log.js'
import type { Store } from '../src/store/index.js'
import { openPostgresStore } from '../src/store/postgres.js'
import { freshDatabase, havePostgres } from './helpers/postgres.js'
import { insertInstanceRow, insertUserRow } from './helpers/rows.js'

/**
 * Two replicas on one PostgreSQL: two stores (two pools) on one database, each with its own
 * event log, as two processes have. A turn is held by the replica running it: a second start
 * anywhere is refused, a dead owner's turn is taken over or closed once, a live one's never.
 */
const log = createLogger('silent')
const at = (agoMs = 0) => new Date(Date.now() - agoMs).toISOString()

async function newSession(store: Store, instanceId: string): Promise<string> {
  const id = randomUUID()
  await store.chat.createSession({
    id,
    instance_id: instanceId,
    title: null,
    session_key: `clawport-${id}`,
    created_at: at(),
    updated_at: at(),
    last_activity: at(),
  })
  return id
}

/** An agent that streams a word every few milliseconds until its turn is aborted. */
const endless: AgentRunner = {
  async *runTurn(input): AsyncGenerator<TurnEvent> {
    while (!input.signal.aborted) {
      yield { type: 'delta', text: 'word ' }
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  },
}

describe.skipIf(!havePostgres())('chat turns owned across replicas (postgres)', () => {
  let drop: () => Promise<void>
  let url: string
  let a: Store
  let b: Store
  let eventsA: ChatEventLog
  let eventsB: ChatEventLog
  let userId: string
  let instanceId: string

  beforeAll(async () => {
    const db = await freshDatabase('turns')
    drop = db.drop
    url = db.url
    ;[a, b] = await Promise.all([openPostgresStore(db.url), openPostgresStore(db.url)])
    eventsA = new ChatEventLog(a)
    eventsB = new ChatEventLog(b)
    userId = await insertUserRow(a)
    instanceId = await insertInstanceRow(a, userId)
  })
  afterAll(async () => {
    await a?.close()
    await b?.close()
    await drop?.()
  })

  const claim = (store: Store, sessionId: string, owner: string, agoMs = 0) =>
    store.turns.claim(
      { instance_id: instanceId, session_id: sessionId, owner, now: at(agoMs) },
      staleBefore(),
    )

  it('gives a session turn to one replica at a time', async () => {
    const s = await newSession(a, instanceId)
    const both = await Promise.all([claim(a, s, 'replica-a'), claim(b, s, 'replica-b')])
    expect(both.filter(Boolean)).toHaveLength(1)
    const winner = both[0] ? 'replica-a' : 'replica-b'
    const loser = both[0] ? 'replica-b' : 'replica-a'
    expect((await b.turns.get(s))?.owner).toBe(winner)
    expect(await claim(a, s, loser)).toBe(false)
    // Only its owner's release frees it.
    await b.turns.release(s, loser)
    expect(await claim(b, s, loser)).toBe(false)
    await a.turns.release(s, winner)
    expect(await claim(b, s, loser)).toBe(true)
    await b.turns.release(s, loser)
  })

  it('lets a live heartbeat keep a turn and a stale one be taken over, by one replica', async () => {
    const s = await newSession(a, instanceId)
    expect(await claim(a, s, 'replica-a', TURN_STALE_MS - 3_000)).toBe(true)
    expect(await claim(b, s, 'replica-b')).toBe(false)
    expect(await a.turns.beat('replica-a', [s], at(TURN_STALE_MS + 1_000))).toEqual([s])
    // Stale now: two replicas race to take it over; one does.
    const both = await Promise.all([claim(a, s, 'replica-c'), claim(b, s, 'replica-b')])
    expect(both.filter(Boolean)).toHaveLength(1)
    const owner = (await a.turns.get(s))?.owner
    expect(owner).toBe(both[0] ? 'replica-c' : 'replica-b')
    // The old owner's next heartbeat finds it holds nothing any more.
    expect(await a.turns.beat('replica-a', [s], at())).toEqual([])
    await a.turns.release(s, owner ?? '')
  })

  it('beats only the turns an owner still runs: a row it failed to release goes stale', async () => {
    const [running, leftover] = [await newSession(a, instanceId), await newSession(a, instanceId)]
    expect(await claim(a, running, 'replica-a')).toBe(true)
    expect(await claim(a, leftover, 'replica-a', TURN_STALE_MS + 1_000)).toBe(true)
    expect(await a.turns.beat('replica-a', [running], at())).toEqual([running])
    expect((await b.turns.stale(staleBefore())).map((r) => r.session_id)).toEqual([leftover])
    // Its own sweep leaves what it runs alone, whatever the row says.
    const deps = { store: a, events: eventsA, log, owner: 'replica-a' }
    expect(await closeStaleTurns(deps, staleBefore(Date.now() + TURN_STALE_MS), new Set([running]))).toBe(0)
    expect((await a.turns.get(running))?.owner).toBe('replica-a')
    expect(await a.turns.get(leftover)).toBeUndefined()
    expect(await claim(b, leftover, 'replica-b')).toBe(true)
    await b.turns.release(leftover, 'replica-b')
    await a.turns.release(running, 'replica-a')
  })

  it('closes a dead owner turn at start and while serving, and never a live one', async () => {
    const live = await newSession(a, instanceId)
    const dead = await newSession(a, instanceId)
    const legacy = await newSession(a, instanceId)
    expect(await claim(a, live, 'replica-a')).toBe(true)
    expect(await claim(a, dead, 'replica-gone', TURN_STALE_MS + 5_000)).toBe(true)
    for (const s of [live, dead, legacy]) {
      await eventsA.append(instanceId, s, 'session', { session_id: s })
      await eventsA.append(instanceId, s, 'delta', { text: 'half ' })
    }
    // A restarting replica b: the dead owner's turn and the one from before turn rows close.
    expect(await closeInterruptedTurns(b, eventsB, log, { owner: 'replica-b', stale: staleBefore() })).toBe(2)
    const last = async (s: string) => (await eventsB.list(instanceId, 0, s, 100)).at(-1)
    expect(await last(live)).toMatchObject({ type: 'delta' })
    expect(await last(dead)).toMatchObject({
      type: 'error',
      data: { code: 'server_restarted', partial: { content: 'half ', status: 'error' } },
    })
    expect(await last(legacy)).toMatchObject({ type: 'error', data: { code: 'server_restarted' } })
    expect(await b.turns.get(dead)).toBeUndefined()
    expect((await b.turns.get(live))?.owner).toBe('replica-a')

    // Owner a is killed: its last heartbeat ages past the mark; both replicas' sweeps see it
    // stale, and its turn ends once.
    expect(await a.turns.beat('replica-a', [live], at(TURN_STALE_MS + 1_000))).toEqual([live])
    const swept = await Promise.all([
      closeStaleTurns({ store: a, events: eventsA, log, owner: 'replica-c' }),
      closeStaleTurns({ store: b, events: eventsB, log, owner: 'replica-b' }),
    ])
    expect(swept[0] + swept[1]).toBe(1)
    const ends = (await eventsB.list(instanceId, 0, live, 100)).filter((e) => e.type === 'error')
    expect(ends).toHaveLength(1)
    expect(await a.turns.get(live)).toBeUndefined()
    expect(await closeInterruptedTurns(a, eventsA, log, { owner: 'replica-c', stale: staleBefore() })).toBe(0)
  })

  it('refuses a second start on another replica and aborts from either', async () => {
    const instances = (store: Store) =>
      ({
        owned: async (_actor: unknown, id: string) => store.instances.get(id),
      }) as unknown as InstanceService
    // What the replicas share: the database, for the store and the bus.
    const [busA, busB] = [new PgBus(url, log), new PgBus(url, log)]
    await Promise.all([busA.start(), busB.start()])
    const chatA = new ChatService(a, instances(a), endless, log, { replicaId: 'replica-a', bus: busA })
    const chatB = new ChatService(b, instances(b), endless, log, { replicaId: 'replica-b', bus: busB })
    const actor = asUser(userId)
    try {
      const s = await newSession(a, instanceId)
      const started = await chatA.start(actor, instanceId, { message: 'hi', session_id: s })
      await expect(chatB.start(actor, instanceId, { message: 'again', session_id: s })).rejects.toMatchObject(
        {
          code: 'turn_in_progress',
          status: 409,
        },
      )
      expect(await chatB.abort(actor, instanceId, s)).toEqual({ session_id: s, aborted: true })
      // Answered once the end is stored: b reads it at once.
      const out = await started.outcome
      expect(out).toMatchObject({ ok: false, code: 'aborted' })
      expect((await eventsB.list(instanceId, 0, s, 1000)).at(-1)).toMatchObject({
        type: 'error',
        data: { code: 'aborted' },
      })
      expect(await chatB.abort(actor, instanceId, s)).toEqual({ session_id: s, aborted: false })

      // The session is free again, on either replica; stopping the instance anywhere ends it.
      const second = await chatB.start(actor, instanceId, { message: 'more', session_id: s })
      chatA.abortInstance(instanceId, 'the instance stopped')
      expect(await second.outcome).toMatchObject({ ok: false, code: 'instance_stopping' })
      expect(await a.turns.get(s)).toBeUndefined()

      // A session whose owner died mid-turn: a new start takes the stale row over and ends the
      // dead turn before its own begins, so the log never shows two open turns.
      const orphan = await newSession(a, instanceId)
      expect(await claim(a, orphan, 'replica-gone', TURN_STALE_MS + 5_000)).toBe(true)
      await eventsA.append(instanceId, orphan, 'session', { session_id: orphan })
      await eventsA.append(instanceId, orphan, 'delta', { text: 'cut ' })
      const third = await chatB.start(actor, instanceId, { message: 'after', session_id: orphan })
      expect((await b.turns.get(orphan))?.owner).toBe('replica-b')
      expect(await chatA.abort(actor, instanceId, orphan)).toEqual({ session_id: orphan, aborted: true })
      expect(await third.outcome).toMatchObject({ ok: false, code: 'aborted' })
      const types = (await eventsA.list(instanceId, 0, orphan, 1000)).map((e) =>
        e.type === 'error' ? `error:${e.data.code}` : e.type,
      )
      expect(types.filter((t) => t !== 'delta')).toEqual([
        'session',
        'error:server_restarted',
        'session',
        'message',
        'error:aborted',
      ])
    } finally {
      await chatA.close()
      await chatB.close()
      await busA.close()
      await busB.close()
    }
  })
})
