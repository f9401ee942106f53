import type { Kysely, Selectable } from 'kysely'
import { decodeJson, JsonObject } from './codecs.js'
import type { Database } from './schema.js'

/** A chat channel of an instance's OpenClaw; its token is sealed with the data folder's key. */
export interface InstanceChannelsTable {
  instance_id: string
  /** `telegram`, ... */
  name: string
  /** JSON object of the channel's settings, without its secrets. */
  settings: string
  /** The channel's secrets (its token) as JSON, sealed (SecretBox). */
  secret_enc: string
  created_at: string
  updated_at: string
}

/** A channel as core sees it: `settings` decoded (its secrets stay sealed, for the channel service to open). */
export type InstanceChannelRow = Omit<Selectable<InstanceChannelsTable>, 'settings'> & {
  settings: Record<string, unknown>
}

export interface ChannelsStore {
  list(instanceId: string): Promise<InstanceChannelRow[]>
  get(instanceId: string, name: string): Promise<InstanceChannelRow | undefined>
  /** Inserts or replaces the instance's channel of that name. */
  put(row: InstanceChannelRow): Promise<void>
  /** True when a row was removed. */
  remove(instanceId: string, name: string): Promise<boolean>
}

export function kyselyChannelsStore(base: Kysely<Database>): ChannelsStore {
  const db = base.withTables<{ instance_channels: InstanceChannelsTable }>()
  return {
    list: async (instanceId) =>
      (
        await db
          .selectFrom('instance_channels')
          .selectAll()
          .where('instance_id', '=', instanceId)
          .orderBy('name')
          .execute()
      ).map(decodeChannel),
    get: async (instanceId, name) => {
      const row = await db
        .selectFrom('instance_channels')
        .selectAll()
        .where('instance_id', '=', instanceId)
        .where('name', '=', name)
        .executeTakeFirst()
      return row && decodeChannel(row)
    },
    put: async (row) => {
      const settings = JSON.stringify(row.settings)
      await db
        .insertInto('instance_channels')
        .values({ ...row, settings })
        .onConflict((oc) =>
          oc.columns(['instance_id', 'name']).doUpdateSet({
            settings,
            secret_enc: row.secret_enc,
            updated_at: row.updated_at,
          }),
        )
        .execute()
    },
    remove: async (instanceId, name) => {
      const res = await db
        .deleteFrom('instance_channels')
        .where('instance_id', '=', instanceId)
        .where('name', '=', name)
        .executeTakeFirst()
      return Number(res.numDeletedRows) > 0
    },
  }
}

/** A stored channel with its settings decoded. */
function decodeChannel(row: Selectable<InstanceChannelsTable>): InstanceChannelRow {
  return {
    ...row,
    settings: decodeJson(
      JsonObject,
      row.settings,
      'instance_channels.settings',
      `${row.instance_id}/${row.name}`,
    ),
  }
}
