import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'
import type { NetworkMode } from '../config.js'
import type { InstanceResources } from '../drivers/driver.js'
import type { StoredChatTool } from './codecs.js'

/**
 * Table types of the store, shared by every SQL dialect. Booleans are 0/1, times ISO-8601 text,
 * structured values JSON text; the `...Row` types below are what core gets, those decoded.
 */
export interface Database {
  users: UsersTable
  plans: PlansTable
  subscriptions: SubscriptionsTable
  api_keys: ApiKeysTable
  invites: InvitesTable
  instances: InstancesTable
  user_settings: UserSettingsTable
  model_usage: ModelUsageTable
  chat_sessions: ChatSessionsTable
  chat_messages: ChatMessagesTable
  chat_events: ChatEventsTable
  web_sessions: WebSessionsTable
}

export interface UsersTable {
  id: string
  email: string
  password_hash: string | null
  is_admin: number
  created_at: string
  updated_at: string
  /** When an administrator disabled the user; null while enabled. */
  disabled_at: ColumnType<string | null, string | null | undefined, string | null>
}

export interface PlansTable {
  name: string
  instance_limit: number
  memory_mb: number
  cpus: number
  pids_max: number
  disk_mb: number
  /** The most network the plan's instances may have, and their default. */
  network: ColumnType<NetworkMode, NetworkMode | undefined, NetworkMode>
  /** JSON array: the host names its `allowlist` instances get by default. */
  allowed_hosts: ColumnType<string, string | undefined, string>
}

export interface SubscriptionsTable {
  user_id: string
  plan: string
  active: number
  source: string
  created_at: string
  updated_at: string
}

export interface ApiKeysTable {
  id: string
  user_id: string
  name: string
  prefix: string
  key_hash: string
  created_at: string
  last_used_at: string | null
  expires_at: string | null
  revoked_at: string | null
}

export interface InvitesTable {
  code: string
  plan: string
  max_uses: number
  used_count: number
  expires_at: string | null
  created_at: string
}

export interface InstancesTable {
  id: string
  user_id: string
  name: string | null
  status: string
  desired_state: string
  host_uid: number
  resources: string
  /** The plan whose resources the instance follows; null when it follows none. */
  plan: string | null
  /** What the sandbox may reach from its next start; rows made before networking have `off`. */
  network: ColumnType<NetworkMode, NetworkMode | undefined, NetworkMode>
  /** JSON array of checked host names: what `allowlist` reaches. */
  allowed_hosts: ColumnType<string, string | undefined, string>
  error: string | null
  created_at: string
  updated_at: string
  started_at: string | null
  /** When a pooled instance became warm (ready, warmed up, claimable); null (or absent) otherwise. */
  warm_at?: string | null
  /** When a replica last saw the instance used (epoch ms; written on PostgreSQL only); null: not recorded. */
  last_used_at?: number | null
  /** The runner holding the instance's disk; null (or absent): the server's in-process runner. */
  runner_id?: string | null
}

/** A user's own model upstream; the key is AES-256-GCM encrypted with the data folder's key. */
export interface UserSettingsTable {
  user_id: string
  llm_base_url: string | null
  llm_model: string | null
  llm_api_key_enc: string | null
  /** Served at llm_base_url with the same key. */
  llm_embedding_model: string | null
  updated_at: string
}

/** One model call made through the broker. */
export interface ModelUsageTable {
  id: Generated<number>
  instance_id: string
  user_id: string
  model: string
  prompt_tokens: number
  completion_tokens: number
  status: string
  duration_ms: number
  created_at: string
}

/** A chat session of an instance, mapped to one stable OpenClaw session key. */
export interface ChatSessionsTable {
  id: string
  instance_id: string
  title: string | null
  session_key: string
  created_at: string
  updated_at: string
  last_activity: string
}

/** One message of a session; `seq` counts from 1 per session, `tool` is JSON. */
export interface ChatMessagesTable {
  id: string
  session_id: string
  instance_id: string
  seq: number
  role: string
  content: string
  tool: string | null
  status: string
  created_at: string
  updated_at: string
  /** The instance whose agent sent this message, when one did. */
  from_instance: string | null
}

/** One persisted chat event; `cursor` counts from 1 per instance, `data` is JSON. */
export interface ChatEventsTable {
  instance_id: string
  cursor: number
  session_id: string
  type: string
  data: string
  created_at: string
}

/** A dashboard sign-in; the cookie token and the CSRF token are kept as SHA-256 hashes. */
export interface WebSessionsTable {
  id: string
  token_hash: string
  csrf_hash: string
  user_id: string
  created_at: string
  last_seen_at: string
  expires_at: string
}

/** A user as core sees it: `is_admin` a boolean; `disabled_at` may be left out of a new one. */
export type UserRow = Omit<Selectable<UsersTable>, 'is_admin' | 'disabled_at'> & {
  is_admin: boolean
  disabled_at?: string | null
}
/** A plan as core sees it: `allowed_hosts` decoded. */
export type PlanRow = Omit<Selectable<PlansTable>, 'allowed_hosts'> & { allowed_hosts: string[] }
/** A subscription as core sees it: `active` a boolean. */
export type SubscriptionRow = Omit<Selectable<SubscriptionsTable>, 'active'> & { active: boolean }
export type ApiKeyRow = Selectable<ApiKeysTable>
export type InviteRow = Selectable<InvitesTable>
/** The instance columns the store keeps as JSON text and hands core decoded. */
type InstanceJson = 'resources' | 'allowed_hosts'
/**
 * An instance as core sees it: `resources` and `allowed_hosts` decoded. `warm_at` may be left
 * out of a row made in code (it is only ever set on the pool's).
 */
export type InstanceRow = Omit<
  Selectable<InstancesTable>,
  'warm_at' | 'last_used_at' | 'runner_id' | InstanceJson
> & {
  warm_at?: string | null
  last_used_at?: number | null
  runner_id?: string | null
  resources: InstanceResources
  allowed_hosts: string[]
}
export type NewInstance = Omit<Insertable<InstancesTable>, InstanceJson> & {
  resources: InstanceResources
  allowed_hosts?: string[]
}
export type InstanceUpdate = Omit<Updateable<InstancesTable>, InstanceJson> & {
  resources?: InstanceResources
  allowed_hosts?: string[]
}
export type UserSettingsRow = Selectable<UserSettingsTable>
export type ModelUsageRow = Selectable<ModelUsageTable>
export type NewModelUsage = Insertable<ModelUsageTable>
export type ChatSessionRow = Selectable<ChatSessionsTable>
/** A message as core sees it: `tool` decoded. */
export type ChatMessageRow = Omit<Selectable<ChatMessagesTable>, 'tool'> & { tool: StoredChatTool | null }
export type NewChatMessage = Omit<Insertable<ChatMessagesTable>, 'seq' | 'tool'> & {
  tool?: StoredChatTool | null
}
/** An event as core sees it: `data` decoded. */
export type ChatEventRow = Omit<Selectable<ChatEventsTable>, 'data'> & { data: Record<string, unknown> }
export type NewChatEvent = Omit<Insertable<ChatEventsTable>, 'cursor' | 'data'> & {
  data: Record<string, unknown>
}
export type WebSessionRow = Selectable<WebSessionsTable>
