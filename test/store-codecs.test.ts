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
})
