import { type Generated, type Insertable, type Kysely, type Selectable, sql } from 'kysely'
import { decodeJson, JsonObject, StringList } from './codecs.js'
import type { Database } from './schema.js'

/** One lifecycle event of an instance; `cursor` increases with every event of every instance. */
export interface InstanceEventsTable {
  cursor: Generated<number>
  instance_id: string
  user_id: string
  type: string
  reason: string | null
  /** JSON object. */
  data: string
  created_at: string
}

/** An owner's webhook: where its instances' events are sent, signed with its secret. */
export interface WebhooksTable {
  id: string
  user_id: string
  url: string
  /** JSON array of event types, or `["*"]`. */
  events: string
  /** Sealed with the data folder's key (SecretBox): it must be read back to sign. */
  secret: string
  created_at: string
}

/** One event to send to one webhook: a queued row until delivered or out of attempts. */
export interface WebhookDeliveriesTable {
  id: string
  webhook_id: string
  event_cursor: number
  event_type: string
  instance_id: string
  /** The exact bytes sent and signed, the same on every attempt. */
  body: string
  /** `pending`, `delivered` or `failed`. */
  status: string
  attempts: number
  next_attempt_at: string
  last_status: number | null
  last_error: string | null
  created_at: string
  updated_at: string
  delivered_at: string | null
}

/** An event as core sees it: `data` decoded. */
export type InstanceEventRow = Omit<Selectable<InstanceEventsTable>, 'data'> & {
  data: Record<string, unknown>
}
export type NewInstanceEvent = Omit<Insertable<InstanceEventsTable>, 'data'> & {
  data: Record<string, unknown>
}
/** A webhook as core sees it: `events` decoded (its secret stays sealed). */
export type WebhookRow = Omit<Selectable<WebhooksTable>, 'events'> & { events: string[] }
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>
export type DeliveryUpdate = Partial<
  Pick<
    WebhookDeliveryRow,
    'status' | 'attempts' | 'next_attempt_at' | 'last_status' | 'last_error' | 'updated_at' | 'delivered_at'
  >
>

export interface EventsStore {
  /** Inserts an event and keeps only the instance's newest `keep`; returns the row. */
  append(row: NewInstanceEvent, keep: number): Promise<InstanceEventRow>
  /** An instance's events after a cursor, oldest first. */
  list(instanceId: string, after: number, limit: number): Promise<InstanceEventRow[]>
  /** Forgets an instance's events (it was deleted and its last event handed on). */
  removeInstance(instanceId: string): Promise<void>
  webhooks: {
    insert(row: WebhookRow): Promise<void>
    get(id: string): Promise<WebhookRow | undefined>
    listByUser(userId: string): Promise<WebhookRow[]>
    countByUser(userId: string): Promise<number>
    remove(id: string): Promise<void>
  }
  deliveries: {
    insert(rows: WebhookDeliveryRow[]): Promise<void>
    /** Pending deliveries due at `now`, oldest first. */
    due(now: string, limit: number): Promise<WebhookDeliveryRow[]>
    update(id: string, patch: DeliveryUpdate): Promise<void>
    /** A webhook's deliveries, newest first. */
    list(webhookId: string, limit: number): Promise<WebhookDeliveryRow[]>
    /** Keeps a webhook's newest `keep` deliveries (pending ones always stay). */
    prune(webhookId: string, keep: number): Promise<void>
  }
}

type Tables = {
  instance_events: InstanceEventsTable
  webhooks: WebhooksTable
  webhook_deliveries: WebhookDeliveriesTable
}

/** The lifecycle events and webhook store over the main database's Kysely instance. */
export function kyselyEventsStore(
  base: Kysely<Database>,
  serialised: <T>(key: string, fn: (db: Kysely<Database>) => Promise<T>) => Promise<T>,
): EventsStore {
  const db = base.withTables<Tables>()
  return {
    // Under one lock for every instance: cursors come from one sequence, and followers read
    // "after cursor N", so a cursor must never commit after a higher one.
    append: (row, keep) =>
      serialised('instance_events', async (locked) => {
        const db = locked.withTables<Tables>()
        const inserted = await db
          .insertInto('instance_events')
          .values({ ...row, data: JSON.stringify(row.data) })
          .returningAll()
          .executeTakeFirstOrThrow()
        // The oldest beyond `keep` go: bounded per instance, found through its index.
        await db
          .deleteFrom('instance_events')
          .where('instance_id', '=', row.instance_id)
          .where(
            'cursor',
            '<=',
            sql<number>`(select cursor from instance_events where instance_id = ${row.instance_id} order by cursor desc limit 1 offset ${keep})`,
          )
          .execute()
        return decodeEvent(inserted)
      }),
    async list(instanceId, after, limit) {
      const rows = await db
        .selectFrom('instance_events')
        .selectAll()
        .where('instance_id', '=', instanceId)
        .where('cursor', '>', after)
        .orderBy('cursor')
        .limit(limit)
        .execute()
      return rows.map(decodeEvent)
    },
    async removeInstance(instanceId) {
      await db.deleteFrom('instance_events').where('instance_id', '=', instanceId).execute()
    },
    webhooks: {
      async insert(row) {
        await db
          .insertInto('webhooks')
          .values({ ...row, events: JSON.stringify(row.events) })
          .execute()
      },
      async get(id) {
        const row = await db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst()
        return row && decodeWebhook(row)
      },
      async listByUser(userId) {
        const rows = await db
          .selectFrom('webhooks')
          .selectAll()
          .where('user_id', '=', userId)
          .orderBy('created_at')
          .execute()
        return rows.map(decodeWebhook)
      },
      async countByUser(userId) {
        const r = await db
          .selectFrom('webhooks')
          .select((e) => e.fn.countAll<number>().as('n'))
          .where('user_id', '=', userId)
          .executeTakeFirst()
        return Number(r?.n ?? 0)
      },
      async remove(id) {
        await db.deleteFrom('webhooks').where('id', '=', id).execute()
      },
    },
    deliveries: {
      async insert(rows) {
        if (rows.length) await db.insertInto('webhook_deliveries').values(rows).execute()
      },
      due: (now, limit) =>
        db
          .selectFrom('webhook_deliveries')
          .selectAll()
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .orderBy('next_attempt_at')
          .limit(limit)
          .execute(),
      async update(id, patch) {
        await db.updateTable('webhook_deliveries').set(patch).where('id', '=', id).execute()
      },
      list: (webhookId, limit) =>
        db
          .selectFrom('webhook_deliveries')
          .selectAll()
          .where('webhook_id', '=', webhookId)
          .orderBy('created_at', 'desc')
          .orderBy('event_cursor', 'desc')
          .limit(limit)
          .execute(),
      async prune(webhookId, keep) {
        await db
          .deleteFrom('webhook_deliveries')
          .where('webhook_id', '=', webhookId)
          .where('status', '!=', 'pending')
          .where(
            'id',
            'not in',
            db
              .selectFrom('webhook_deliveries')
              .select('id')
              .where('webhook_id', '=', webhookId)
              .orderBy('created_at', 'desc')
              .limit(keep),
          )
          .execute()
      },
    },
  }
}

/** A stored lifecycle event with its data decoded. */
function decodeEvent(row: Selectable<InstanceEventsTable>): InstanceEventRow {
  return { ...row, data: decodeJson(JsonObject, row.data, 'instance_events.data', String(row.cursor)) }
}

/** A stored webhook with its event types decoded. */
function decodeWebhook(row: Selectable<WebhooksTable>): WebhookRow {
  return { ...row, events: decodeJson(StringList, row.events, 'webhooks.events', row.id) }
}
