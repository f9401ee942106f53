import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import SQLite from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Store } from '../src/store/index.js'
import { openSqliteStore } from '../src/store/sqlite.js'
import { insertInstanceRow } from './helpers/rows.js'

/** The store hands core decoded records; a malformed JSON column fails at the boundary, named. */
describe('store codecs', () => {
  let dir: string
  let store: Store
  let raw: SQLite.Database
  let owner: string

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-codecs-'))
    store = await openSqliteStore(dir)
    raw = new SQLite(path.join(dir, 'clawport.db'))
    owner = 'user-codecs'
    const at = new Date().toISOString()
    await store.users.create({
      id: owner,
      email: 'codecs@example.com',
      password_hash: null,
      is_admin: false,
      created_at: at,
      updated_at: at,
    })
  })
  afterAll(async () => {
    raw.close()
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('decodes and encodes an instance resources and allowed hosts', async () => {
    const id = await insertInstanceRow(store, owner)
    expect((await store.instances.get(id))?.resources).toEqual({
      memory_mb: 256,
      cpus: 1,
      pids_max: 128,
      disk_mb: 64,
    })
    await store.instances.update(id, {
      allowed_hosts: ['pypi.org'],
      resources: { disk_mb: 1, pids_max: 2, cpus: 3, memory_mb: 4 },
    })
    const stored = raw.prepare('select resources, allowed_hosts from instances where id = ?').get(id)
    // One key order, whatever the caller's: a warm claim matches the column as text.
    expect(stored).toEqual({
      resources: '{"memory_mb":4,"cpus":3,"pids_max":2,"disk_mb":1}',
      allowed_hosts: '["pypi.org"]',
    })
    expect((await store.instances.get(id))?.allowed_hosts).toEqual(['pypi.org'])
  })

  it('names the column and row of a malformed value', async () => {
    const id = await insertInstanceRow(store, owner)
    raw.prepare('update instances set resources = ? where id = ?').run('{"memory_mb":"lots"}', id)
    await expect(store.instances.get(id)).rejects.toThrow(
      `store: instances.resources of ${id} is malformed: memory_mb`,
    )
    raw.prepare('update instances set resources = ? where id = ?').run('not json', id)
    await expect(store.instances.get(id)).rejects.toThrow(`store: instances.resources of ${id} is not JSON`)
    await store.instances.remove(id)
  })

  it('decodes chat tool calls and event data, and names a malformed one', async () => {
    const instance = await insertInstanceRow(store, owner)
    const at = new Date().toISOString()
    const session = 'session-codecs'
    await store.chat.createSession({
      id: session,
      instance_id: instance,
      title: null,
      session_key: 'k',
      created_at: at,
      updated_at: at,
      last_activity: at,
    })
    const message = {
      id: 'message-codecs',
      session_id: session,
      instance_id: instance,
      role: 'tool',
      content: '',
      status: 'running',
      created_at: at,
      updated_at: at,
    }
    const tool = { name: 'exec', arguments: { cmd: 'ls' }, call_id: 'c1' }
    expect((await store.chat.appendMessage({ ...message, tool })).tool).toEqual(tool)
    const event = await store.chat.appendEvent({
      instance_id: instance,
      session_id: session,
      type: 'delta',
      data: { text: 'hi' },
      created_at: at,
    })
    expect(event.data).toEqual({ text: 'hi' })
    raw.prepare('update chat_messages set tool = ? where id = ?').run('{"arguments":1}', message.id)
    await expect(store.chat.listMessages(session, { limit: 10 })).rejects.toThrow(
      `store: chat_messages.tool of ${message.id} is malformed: name`,
    )
    raw.prepare('update chat_events set data = ? where instance_id = ?').run('[1]', instance)
    await expect(store.chat.listEvents(instance, { after: 0, limit: 10 })).rejects.toThrow(
      'store: chat_events.data of',
    )
  })
})
