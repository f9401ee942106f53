import { randomUUID } from 'node:crypto'
import type { Store } from '../../src/store/index.js'

/**
 * Inserts an instance row with no sandbox behind it, for tests of what the API and core do with
 * the store alone (history, events, audit, validation). Returns its id.
 */
export async function insertInstanceRow(store: Store, userId: string, status = 'ready'): Promise<string> {
  const id = randomUUID()
  const at = new Date().toISOString()
  const running = status !== 'stopped'
  await store.instances.insert({
    id,
    user_id: userId,
    name: null,
    status,
    desired_state: running ? 'running' : 'stopped',
    host_uid: 400_000 + Math.floor(Math.random() * 50_000),
    resources: { memory_mb: 256, cpus: 1, pids_max: 128, disk_mb: 64 },
    error: null,
    created_at: at,
    updated_at: at,
    started_at: running ? at : null,
  })
  return id
}

/** Inserts a user row (no password, not an admin), for tests of the store alone. Returns its id. */
export async function insertUserRow(store: Store, email?: string): Promise<string> {
  const id = randomUUID()
  const at = new Date().toISOString()
  await store.users.create({
    id,
    email: email ?? `${id}@example.com`,
    password_hash: null,
    is_admin: false,
    created_at: at,
    updated_at: at,
  })
  return id
}

/** Inserts a chat session of an instance. Returns its id. */
export async function insertChatSession(store: Store, instanceId: string): Promise<string> {
  const id = randomUUID()
  const at = new Date().toISOString()
  await store.chat.createSession({
    id,
    instance_id: instanceId,
    title: null,
    session_key: `key-${id}`,
    created_at: at,
    updated_at: at,
    last_activity: at,
  })
  return id
}
