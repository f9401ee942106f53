import { type Kysely, type Selectable, sql, type Updateable } from 'kysely'
import type { PlanSpec } from '../config.js'
import { kyselyAuditStore } from './audit-store.js'
import { kyselyAutomationStore } from './automation-store.js'
import { kyselyChannelsStore } from './channels-store.js'
import {
  ChatToolJson,
  decodeJson,
  decodeNullableJson,
  encodeResources,
  JsonObject,
  StoredResources,
  StringList,
} from './codecs.js'
import { kyselyEventsStore } from './events-store.js'
import { kyselyRunnersStore } from './runners-store.js'
import type {
  ChatEventRow,
  ChatEventsTable,
  ChatMessageRow,
  ChatMessagesTable,
  Database,
  InstanceRow,
  InstancesTable,
  InstanceUpdate,
  PlanRow,
  PlansTable,
  UserRow,
  UsersTable,
} from './schema.js'
import { kyselySharedStateStore } from './shared-state-store.js'
import type { Store, WarmMatch } from './store.js'
import { kyselyTurnsStore } from './turns-store.js'

/** The Store over Kysely; dialect-neutral SQL so every database shares it. */
export class KyselyStore implements Store {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly onClose: () => Promise<void> = async () => db.destroy(),
    readonly dialect: 'sqlite' | 'postgres' = 'sqlite',
  ) {}

  /**
   * Runs fn in a transaction that holds `key` until it ends: PostgreSQL takes an advisory
   * transaction lock (writers of one key wait for each other, so what they number commits in
   * number order); SQLite's single writer already serialises every transaction.
   */
  private serialised<T>(key: string, fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    if (this.dialect === 'sqlite') return fn(this.db)
    const locked = async (trx: Kysely<Database>) => {
      await sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(trx)
      return fn(trx)
    }
    if (this.db.isTransaction) return locked(this.db)
    return this.db.transaction().execute(locked)
  }

  lock: Store['lock'] = async (key) => {
    if (this.dialect === 'sqlite') return
    if (!this.db.isTransaction) throw new Error('store.lock is only meaningful inside a transaction')
    await sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(this.db)
  }

  users: Store['users'] = {
    create: async (row) => {
      await this.db
        .insertInto('users')
        .values({ ...row, is_admin: row.is_admin ? 1 : 0 })
        .execute()
    },
    byId: async (id) => {
      const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
      return row && decodeUser(row)
    },
    byEmail: async (email) => {
      const row = await this.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst()
      return row && decodeUser(row)
    },
    count: async () => {
      const r = await this.db
        .selectFrom('users')
        .select((e) => e.fn.countAll<number>().as('n'))
        .executeTakeFirst()
      return Number(r?.n ?? 0)
    },
    setPassword: async (id, passwordHash, at) => {
      await this.db
        .updateTable('users')
        .set({ password_hash: passwordHash, updated_at: at })
        .where('id', '=', id)
        .execute()
    },
    list: async () =>
      (await this.db.selectFrom('users').selectAll().orderBy('created_at').orderBy('id').execute()).map(
        decodeUser,
      ),
    setAdmin: async (id, isAdmin, at) => {
      await this.db
        .updateTable('users')
        .set({ is_admin: isAdmin ? 1 : 0, updated_at: at })
        .where('id', '=', id)
        .execute()
    },
    setDisabled: async (id, disabledAt, at) => {
      await this.db
        .updateTable('users')
        .set({ disabled_at: disabledAt, updated_at: at })
        .where('id', '=', id)
        .execute()
    },
    remove: async (id) => {
      await this.db.deleteFrom('users').where('id', '=', id).execute()
    },
  }

  plans: Store['plans'] = {
    sync: async (plans: PlanSpec[]) => {
      for (const p of plans) {
        const values = {
          name: p.name,
          instance_limit: p.instance_limit,
          memory_mb: p.memory_mb,
          cpus: p.cpus,
          pids_max: p.pids_max,
          disk_mb: p.disk_mb,
          network: p.network,
          allowed_hosts: JSON.stringify(p.allowed_hosts ?? []),
        }
        await this.db
          .insertInto('plans')
          .values(values)
          .onConflict((oc) => oc.column('name').doUpdateSet(values))
          .execute()
      }
    },
    get: async (name) => {
      const row = await this.db.selectFrom('plans').selectAll().where('name', '=', name).executeTakeFirst()
      return row && decodePlan(row)
    },
    list: async () =>
      (await this.db.selectFrom('plans').selectAll().orderBy('instance_limit').execute()).map(decodePlan),
  }

  subscriptions: Store['subscriptions'] = {
    get: async (userId) => {
      const row = await this.db
        .selectFrom('subscriptions')
        .selectAll()
        .where('user_id', '=', userId)
        .executeTakeFirst()
      return row && { ...row, active: row.active === 1 }
    },
    upsert: async (row) => {
      const active = row.active ? 1 : 0
      await this.db
        .insertInto('subscriptions')
        .values({ ...row, active })
        .onConflict((oc) =>
          oc.column('user_id').doUpdateSet({
            plan: row.plan,
            active,
            source: row.source,
            updated_at: row.updated_at,
          }),
        )
        .execute()
    },
  }

  keys: Store['keys'] = {
    create: async (row) => {
      await this.db.insertInto('api_keys').values(row).execute()
    },
    byHash: (hash) =>
      this.db.selectFrom('api_keys').selectAll().where('key_hash', '=', hash).executeTakeFirst(),
    listByUser: (userId) =>
      this.db
        .selectFrom('api_keys')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .execute(),
    getForUser: (userId, id) =>
      this.db
        .selectFrom('api_keys')
        .selectAll()
        .where('user_id', '=', userId)
        .where('id', '=', id)
        .executeTakeFirst(),
    revoke: async (id, at) => {
      await this.db.updateTable('api_keys').set({ revoked_at: at }).where('id', '=', id).execute()
    },
    touch: async (id, at) => {
      await this.db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute()
    },
  }

  invites: Store['invites'] = {
    create: async (row) => {
      await this.db.insertInto('invites').values(row).execute()
    },
    get: (code) => this.db.selectFrom('invites').selectAll().where('code', '=', code).executeTakeFirst(),
    redeem: async (code, now) => {
      const r = await this.db
        .updateTable('invites')
        .set((e) => ({ used_count: e('used_count', '+', 1) }))
        .where('code', '=', code)
        .where((e) => e('used_count', '<', e.ref('max_uses')))
        .where((e) => e.or([e('expires_at', 'is', null), e('expires_at', '>', now)]))
        .executeTakeFirst()
      return Number(r.numUpdatedRows) === 1
    },
    list: () =>
      this.db.selectFrom('invites').selectAll().orderBy('created_at', 'desc').orderBy('code').execute(),
    remove: async (code) => {
      await this.db.deleteFrom('invites').where('code', '=', code).execute()
    },
  }

  instances: Store['instances'] = {
    insert: async (row) => {
      const { resources, allowed_hosts, ...rest } = row
      await this.db
        .insertInto('instances')
        .values({
          ...rest,
          resources: encodeResources(resources),
          ...(allowed_hosts === undefined ? {} : { allowed_hosts: JSON.stringify(allowed_hosts) }),
        })
        .execute()
    },
    get: async (id) => {
      const row = await this.db.selectFrom('instances').selectAll().where('id', '=', id).executeTakeFirst()
      return row && decodeInstance(row)
    },
    listByUser: async (userId) =>
      (
        await this.db
          .selectFrom('instances')
          .selectAll()
          .where('user_id', '=', userId)
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .execute()
      ).map(decodeInstance),
    listAll: async () =>
      (await this.db.selectFrom('instances').selectAll().orderBy('created_at').execute()).map(decodeInstance),
    countByUser: async (userId) => {
      const r = await this.db
        .selectFrom('instances')
        .select((e) => e.fn.countAll<number>().as('n'))
        .where('user_id', '=', userId)
        .executeTakeFirst()
      return Number(r?.n ?? 0)
    },
    countAll: async () => {
      const r = await this.db
        .selectFrom('instances')
        .select((e) => e.fn.countAll<number>().as('n'))
        .executeTakeFirst()
      return Number(r?.n ?? 0)
    },
    usedHostUids: async () => {
      const rows = await this.db.selectFrom('instances').select('host_uid').execute()
      return rows.map((r) => r.host_uid)
    },
    update: async (id, patch) => {
      await this.db.updateTable('instances').set(encodeInstanceUpdate(patch)).where('id', '=', id).execute()
      return this.instances.get(id)
    },
    remove: async (id) => {
      await this.db.deleteFrom('instances').where('id', '=', id).execute()
    },
    markUsed: async (ids, atMs) => {
      if (ids.length === 0) return
      await this.db
        .updateTable('instances')
        .set({ last_used_at: atMs })
        .where('id', 'in', ids)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', atMs)]))
        .execute()
    },
    claimWarm: async (poolUserId, match, patch) => {
      const candidate = this.db
        .selectFrom('instances')
        .select('id')
        .where('user_id', '=', poolUserId)
        .where('status', '=', 'ready')
        .where('warm_at', 'is not', null)
        .$if('id' in match, (q) => q.where('id', '=', (match as { id: string }).id))
        .$if(!('id' in match), (q) => {
          const m = match as Exclude<WarmMatch, { id: string }>
          return q
            .where('plan', '=', m.plan)
            .where('network', '=', m.network)
            .where('resources', '=', encodeResources(m.resources))
        })
        .orderBy('warm_at')
        .limit(1)
        .$if(this.dialect === 'postgres', (q) => q.forUpdate().skipLocked())
      const row = await this.db
        .updateTable('instances')
        .set({ ...encodeInstanceUpdate(patch), warm_at: null })
        .where('id', '=', candidate)
        .where('warm_at', 'is not', null)
        .returningAll()
        .executeTakeFirst()
      return row && decodeInstance(row)
    },
  }

  userSettings: Store['userSettings'] = {
    get: (userId) =>
      this.db.selectFrom('user_settings').selectAll().where('user_id', '=', userId).executeTakeFirst(),
    put: async (row) => {
      await this.db
        .insertInto('user_settings')
        .values(row)
        .onConflict((oc) => oc.column('user_id').doUpdateSet({ ...row }))
        .execute()
    },
    remove: async (userId) => {
      await this.db.deleteFrom('user_settings').where('user_id', '=', userId).execute()
    },
  }

  usage: Store['usage'] = {
    record: async (row) => {
      await this.db.insertInto('model_usage').values(row).execute()
    },
    totals: async (by) => {
      let q = this.db
        .selectFrom('model_usage')
        .select((eb) => [
          eb.fn.countAll<number>().as('calls'),
          eb.fn.coalesce(eb.fn.sum<number>('prompt_tokens'), eb.lit(0)).as('prompt_tokens'),
          eb.fn.coalesce(eb.fn.sum<number>('completion_tokens'), eb.lit(0)).as('completion_tokens'),
        ])
      if (by.instanceId) q = q.where('instance_id', '=', by.instanceId)
      if (by.userId) q = q.where('user_id', '=', by.userId)
      const r = await q.executeTakeFirstOrThrow()
      return {
        calls: Number(r.calls),
        prompt_tokens: Number(r.prompt_tokens),
        completion_tokens: Number(r.completion_tokens),
      }
    },
    list: (by, limit) => {
      let q = this.db.selectFrom('model_usage').selectAll()
      if (by.instanceId) q = q.where('instance_id', '=', by.instanceId)
      if (by.userId) q = q.where('user_id', '=', by.userId)
      return q.orderBy('id', 'desc').limit(limit).execute()
    },
  }

  chat: Store['chat'] = {
    createSession: async (row) => {
      await this.db.insertInto('chat_sessions').values(row).execute()
    },
    getSession: (instanceId, id) =>
      this.db
        .selectFrom('chat_sessions')
        .selectAll()
        .where('instance_id', '=', instanceId)
        .where('id', '=', id)
        .executeTakeFirst(),
    listSessions: (instanceId) =>
      this.db
        .selectFrom('chat_sessions')
        .selectAll()
        .where('instance_id', '=', instanceId)
        .orderBy('last_activity', 'desc')
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .execute(),
    updateSession: async (id, patch) => {
      await this.db.updateTable('chat_sessions').set(patch).where('id', '=', id).execute()
    },
    // The next seq is computed in the same statement, so concurrent writers cannot share one.
    appendMessage: async (row) =>
      decodeMessage(
        await this.serialised(`chat_messages:${row.session_id}`, (db) =>
          db
            .insertInto('chat_messages')
            .columns([
              'id',
              'session_id',
              'instance_id',
              'seq',
              'role',
              'content',
              'tool',
              'status',
              'created_at',
              'updated_at',
              'from_instance',
            ])
            .expression((eb) =>
              eb
                .selectFrom('chat_messages')
                .select([
                  eb.val(row.id).as('id'),
                  eb.val(row.session_id).as('session_id'),
                  eb.val(row.instance_id).as('instance_id'),
                  sql<number>`coalesce(max(seq), 0) + 1`.as('seq'),
                  eb.val(row.role).as('role'),
                  eb.val(row.content).as('content'),
                  eb.val(row.tool ? JSON.stringify(row.tool) : null).as('tool'),
                  eb.val(row.status).as('status'),
                  eb.val(row.created_at).as('created_at'),
                  eb.val(row.updated_at).as('updated_at'),
                  eb.val(row.from_instance ?? null).as('from_instance'),
                ])
                .where('session_id', '=', row.session_id),
            )
            .returningAll()
            .executeTakeFirstOrThrow(),
        ),
      ),
    updateMessage: async (id, patch) => {
      const { tool, ...rest } = patch
      await this.db
        .updateTable('chat_messages')
        .set({ ...rest, ...(tool === undefined ? {} : { tool: tool && JSON.stringify(tool) }) })
        .where('id', '=', id)
        .execute()
      const row = await this.db
        .selectFrom('chat_messages')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst()
      return row && decodeMessage(row)
    },
    listMessages: async (sessionId, q) => {
      let query = this.db.selectFrom('chat_messages').selectAll().where('session_id', '=', sessionId)
      if (q.after !== undefined) query = query.where('seq', '>', q.after)
      if (q.before !== undefined) query = query.where('seq', '<', q.before)
      const rows = await query
        .orderBy('seq', q.tail ? 'desc' : 'asc')
        .limit(q.limit)
        .execute()
      return (q.tail ? rows.reverse() : rows).map(decodeMessage)
    },
    appendEvent: async (row) =>
      decodeChatEvent(
        await this.serialised(`chat_events:${row.instance_id}`, (db) =>
          db
            .insertInto('chat_events')
            .columns(['instance_id', 'cursor', 'session_id', 'type', 'data', 'created_at'])
            .expression((eb) =>
              eb
                .selectFrom('chat_events')
                .select([
                  eb.val(row.instance_id).as('instance_id'),
                  sql<number>`coalesce(max(cursor), 0) + 1`.as('cursor'),
                  eb.val(row.session_id).as('session_id'),
                  eb.val(row.type).as('type'),
                  eb.val(JSON.stringify(row.data)).as('data'),
                  eb.val(row.created_at).as('created_at'),
                ])
                .where('instance_id', '=', row.instance_id),
            )
            .returningAll()
            .executeTakeFirstOrThrow(),
        ),
      ),
    listEvents: async (instanceId, q) => {
      let query = this.db
        .selectFrom('chat_events')
        .selectAll()
        .where('instance_id', '=', instanceId)
        .where('cursor', '>', q.after)
      if (q.sessionId) query = query.where('session_id', '=', q.sessionId)
      return (await query.orderBy('cursor').limit(q.limit).execute()).map(decodeChatEvent)
    },
    lastCursor: async (instanceId) => {
      const r = await this.db
        .selectFrom('chat_events')
        .select(sql<number>`coalesce(max(cursor), 0)`.as('n'))
        .where('instance_id', '=', instanceId)
        .executeTakeFirst()
      return Number(r?.n ?? 0)
    },
    // One pass over the turn boundaries: a session is unfinished when its last start is later
    // than its last end (cursors of one session are all of one instance, so they compare).
    unfinishedTurns: async () => {
      const rows = await this.db
        .selectFrom('chat_events')
        .select((eb) => [
          'instance_id',
          'session_id',
          sql<number>`max(case when ${eb.ref('type')} = 'session' then ${eb.ref('cursor')} end)`.as(
            'started',
          ),
          sql<number | null>`max(case when ${eb.ref('type')} <> 'session' then ${eb.ref('cursor')} end)`.as(
            'ended',
          ),
        ])
        .where('type', 'in', ['session', 'done', 'error'])
        .groupBy(['instance_id', 'session_id'])
        .execute()
      return rows
        .filter((r) => r.started !== null && (r.ended === null || Number(r.started) > Number(r.ended)))
        .map((r) => ({ instance_id: r.instance_id, session_id: r.session_id, cursor: Number(r.started) }))
    },
  }

  webSessions: Store['webSessions'] = {
    create: async (row) => {
      await this.db.insertInto('web_sessions').values(row).execute()
    },
    byTokenHash: (hash) =>
      this.db.selectFrom('web_sessions').selectAll().where('token_hash', '=', hash).executeTakeFirst(),
    byId: (id) => this.db.selectFrom('web_sessions').selectAll().where('id', '=', id).executeTakeFirst(),
    touch: async (id, lastSeenAt, expiresAt) => {
      await this.db
        .updateTable('web_sessions')
        .set({ last_seen_at: lastSeenAt, expires_at: expiresAt })
        .where('id', '=', id)
        .execute()
    },
    remove: async (id) => {
      await this.db.deleteFrom('web_sessions').where('id', '=', id).execute()
    },
    removeByUser: async (userId) => {
      await this.db.deleteFrom('web_sessions').where('user_id', '=', userId).execute()
    },
    prune: async (now) => {
      await this.db.deleteFrom('web_sessions').where('expires_at', '<=', now).execute()
    },
  }

  private automationStore?: Store['automation']
  get automation(): Store['automation'] {
    this.automationStore ??= kyselyAutomationStore(this.db)
    return this.automationStore
  }

  private auditStore?: Store['audit']
  get audit(): Store['audit'] {
    this.auditStore ??= kyselyAuditStore(this.db)
    return this.auditStore
  }

  private channelsStore?: Store['channels']
  get channels(): Store['channels'] {
    this.channelsStore ??= kyselyChannelsStore(this.db)
    return this.channelsStore
  }

  private eventsStore?: Store['events']
  get events(): Store['events'] {
    this.eventsStore ??= kyselyEventsStore(this.db, (key, fn) => this.serialised(key, fn))
    return this.eventsStore
  }

  private turnsStore?: Store['turns']
  get turns(): Store['turns'] {
    this.turnsStore ??= kyselyTurnsStore(this.db)
    return this.turnsStore
  }

  private runnersStore?: Store['runners']
  get runners(): Store['runners'] {
    this.runnersStore ??= kyselyRunnersStore(this.db, this.dialect)
    return this.runnersStore
  }

  private sharedStateStore?: Store['sharedState']
  get sharedState(): Store['sharedState'] {
    this.sharedStateStore ??= kyselySharedStateStore(this.db)
    return this.sharedStateStore
  }

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    // Inside a transaction already: the work joins it (commits or rolls back with it).
    if (this.db.isTransaction) return fn(this)
    return this.db
      .transaction()
      .execute((trx) => fn(new KyselyStore(trx as Kysely<Database>, async () => {}, this.dialect)))
  }

  close(): Promise<void> {
    return this.onClose()
  }
}

/** A stored instance with its JSON columns decoded. */
function decodeInstance(row: Selectable<InstancesTable>): InstanceRow {
  return {
    ...row,
    resources: decodeJson(StoredResources, row.resources, 'instances.resources', row.id),
    allowed_hosts: decodeJson(StringList, row.allowed_hosts, 'instances.allowed_hosts', row.id),
  }
}

/** An instance patch with its JSON columns encoded. */
function encodeInstanceUpdate(patch: InstanceUpdate): Updateable<InstancesTable> {
  const { resources, allowed_hosts, ...rest } = patch
  return {
    ...rest,
    ...(resources === undefined ? {} : { resources: encodeResources(resources) }),
    ...(allowed_hosts === undefined ? {} : { allowed_hosts: JSON.stringify(allowed_hosts) }),
  }
}

/** A stored chat message with its tool call decoded. */
function decodeMessage(row: Selectable<ChatMessagesTable>): ChatMessageRow {
  return { ...row, tool: decodeNullableJson(ChatToolJson, row.tool, 'chat_messages.tool', row.id) }
}

/** A stored chat event with its data decoded. */
function decodeChatEvent(row: Selectable<ChatEventsTable>): ChatEventRow {
  return {
    ...row,
    data: decodeJson(JsonObject, row.data, 'chat_events.data', `${row.instance_id}#${row.cursor}`),
  }
}

/** A stored user with its 0/1 flag a boolean. */
function decodeUser(row: Selectable<UsersTable>): UserRow {
  return { ...row, is_admin: row.is_admin === 1 }
}

/** A stored plan with its JSON columns decoded. */
function decodePlan(row: Selectable<PlansTable>): PlanRow {
  return {
    ...row,
    allowed_hosts: decodeJson(StringList, row.allowed_hosts, 'plans.allowed_hosts', row.name),
  }
}
