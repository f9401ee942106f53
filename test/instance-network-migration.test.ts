import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import SQLite from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { Migrator } from 'kysely/migration'
import { afterAll, describe, expect, it } from 'vitest'
import { migrationProvider } from '../src/store/migrations/index.js'
import type { Database } from '../src/store/schema.js'
import { openSqliteStore } from '../src/store/sqlite.js'

describe('the instance network migration', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-migrate-'))
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('leaves instances made before it without network, and plans allowing none until they are written again', async () => {
    const db = new Kysely<Database>({
      dialect: new SqliteDialect({ database: new SQLite(path.join(dir, 'clawport.db')) }),
    })
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateTo('0010_audit_address')
    expect(error).toBeUndefined()
    const at = new Date().toISOString()
    await db
      .insertInto('users')
      .values({
        id: 'u1',
        email: 'old@example.com',
        password_hash: null,
        is_admin: 0,
        created_at: at,
        updated_at: at,
      })
      .execute()
    await db
      .insertInto('plans')
      .values({ name: 'old', instance_limit: 1, memory_mb: 256, cpus: 1, pids_max: 64, disk_mb: 64 })
      .execute()
    const instance = {
      id: '00000000-0000-4000-8000-000000000001',
      user_id: 'u1',
      name: null,
      status: 'stopped',
      desired_state: 'stopped',
      host_uid: 499_999,
      resources: JSON.stringify({ memory_mb: 256, cpus: 1, pids_max: 64, disk_mb: 64 }),
      plan: 'old',
      error: null,
      created_at: at,
      updated_at: at,
      started_at: null,
    }
    await db.insertInto('instances').values(instance).execute()
    await db.destroy()

    const store = await openSqliteStore(dir)
    try {
      expect((await store.instances.get(instance.id))?.network).toBe('off')
      expect((await store.plans.get('old'))?.network).toBe('off')
    } finally {
      await store.close()
    }
  })
})
