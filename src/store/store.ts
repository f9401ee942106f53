import type { PlanSpec } from '../config.js'
import type { AuditRow, AuditStore, NewAuditRow } from './audit-store.js'
import type { AutomationStore } from './automation-store.js'
import type { ChannelsStore } from './channels-store.js'
import type { EventsStore } from './events-store.js'
import type { RunnersStore } from './runners-store.js'
import type {
  ApiKeyRow,
  ChatEventRow,
  ChatMessageRow,
  ChatSessionRow,
  InstanceRow,
  InstanceUpdate,
  InviteRow,
  ModelUsageRow,
  NewChatEvent,
  NewChatMessage,
  NewInstance,
  NewModelUsage,
  PlanRow,
  SubscriptionRow,
  UserRow,
  UserSettingsRow,
  WebSessionRow,
} from './schema.js'
import type { SharedStateStore } from './shared-state-store.js'
import type { TurnsStore } from './turns-store.js'

export type {
  ApiKeyRow,
  AuditRow,
  ChatEventRow,
  ChatMessageRow,
  ChatSessionRow,
  InstanceRow,
  InstanceUpdate,
  InviteRow,
  ModelUsageRow,
  NewAuditRow,
  NewChatEvent,
  NewChatMessage,
  NewInstance,
  NewModelUsage,
  PlanRow,
  SubscriptionRow,
  UserRow,
  UserSettingsRow,
  WebSessionRow,
}

/** Which warm pooled instance a claim takes: that one, or any made exactly so. */
export type WarmMatch =
  | { id: string }
  | { plan: string; network: InstanceRow['network']; resources: InstanceRow['resources'] }

/**
 * Persistence seen by core services. One implementation per database (SQLite, PostgreSQL); core
 * code only ever sees this interface, and records decoded: JSON columns as values (checked by
 * the schemas of codecs.ts as they are read), 0/1 flags as booleans.
 */
export interface Store {
  users: {
    create(row: UserRow): Promise<void>
    byId(id: string): Promise<UserRow | undefined>
    byEmail(email: string): Promise<UserRow | undefined>
    count(): Promise<number>
    setPassword(id: string, passwordHash: string, at: string): Promise<void>
    /** Every user, oldest first. */
    list(): Promise<UserRow[]>
    setAdmin(id: string, isAdmin: boolean, at: string): Promise<void>
    /** Disables the user from `disabledAt` on, or enables them again (null). */
    setDisabled(id: string, disabledAt: string | null, at: string): Promise<void>
    /** Deletes the user; rows keyed to it by a foreign key go with it. */
    remove(id: string): Promise<void>
  }
  plans: {
    sync(plans: PlanSpec[]): Promise<void>
    get(name: string): Promise<PlanRow | undefined>
    list(): Promise<PlanRow[]>
  }
  subscriptions: {
    get(userId: string): Promise<SubscriptionRow | undefined>
    upsert(row: SubscriptionRow): Promise<void>
  }
  keys: {
    create(row: ApiKeyRow): Promise<void>
    byHash(hash: string): Promise<ApiKeyRow | undefined>
    listByUser(userId: string): Promise<ApiKeyRow[]>
    getForUser(userId: string, id: string): Promise<ApiKeyRow | undefined>
    revoke(id: string, at: string): Promise<void>
    touch(id: string, at: string): Promise<void>
  }
  invites: {
    create(row: InviteRow): Promise<void>
    get(code: string): Promise<InviteRow | undefined>
    /** Takes one use if any is left and it has not expired; false otherwise. Atomic. */
    redeem(code: string, now: string): Promise<boolean>
    /** Newest first. */
    list(): Promise<InviteRow[]>
    remove(code: string): Promise<void>
  }
  instances: {
    insert(row: NewInstance): Promise<void>
    get(id: string): Promise<InstanceRow | undefined>
    listByUser(userId: string): Promise<InstanceRow[]>
    listAll(): Promise<InstanceRow[]>
    countByUser(userId: string): Promise<number>
    countAll(): Promise<number>
    usedHostUids(): Promise<number[]>
    update(id: string, patch: InstanceUpdate): Promise<InstanceRow | undefined>
    /**
     * Claims one warm pooled instance (the pool's, ready, `warm_at` set) that matches, writing
     * `patch` and clearing `warm_at` in one statement; concurrent claims on PostgreSQL skip each
     * other's row (FOR UPDATE SKIP LOCKED). Undefined when none is free.
     */
    claimWarm(poolUserId: string, match: WarmMatch, patch: InstanceUpdate): Promise<InstanceRow | undefined>
    remove(id: string): Promise<void>
    /** Records that instances `ids` were used at `atMs` (epoch ms); a later use already recorded stays. */
    markUsed(ids: string[], atMs: number): Promise<void>
  }
  userSettings: {
    get(userId: string): Promise<UserSettingsRow | undefined>
    put(row: UserSettingsRow): Promise<void>
    remove(userId: string): Promise<void>
  }
  usage: {
    record(row: NewModelUsage): Promise<void>
    /** Token totals, for one instance or one user. */
    totals(by: {
      instanceId?: string
      userId?: string
    }): Promise<{ calls: number; prompt_tokens: number; completion_tokens: number }>
    list(by: { instanceId?: string; userId?: string }, limit: number): Promise<ModelUsageRow[]>
  }
  chat: {
    createSession(row: ChatSessionRow): Promise<void>
    getSession(instanceId: string, id: string): Promise<ChatSessionRow | undefined>
    /** Most recently active first. */
    listSessions(instanceId: string): Promise<ChatSessionRow[]>
    updateSession(
      id: string,
      patch: Partial<Pick<ChatSessionRow, 'title' | 'updated_at' | 'last_activity'>>,
    ): Promise<void>
    /** Inserts a message with the session's next seq, in one statement; returns the row. */
    appendMessage(row: NewChatMessage): Promise<ChatMessageRow>
    updateMessage(
      id: string,
      patch: Partial<Pick<ChatMessageRow, 'content' | 'tool' | 'status' | 'updated_at'>>,
    ): Promise<ChatMessageRow | undefined>
    /**
     * Messages of a session by seq, within (after, before): the first `limit` of them, or with
     * `tail` the last `limit`; always oldest first.
     */
    listMessages(
      sessionId: string,
      q: { after?: number; before?: number; limit: number; tail?: boolean },
    ): Promise<ChatMessageRow[]>
    /** Inserts an event with the instance's next cursor, in one statement; returns the row. */
    appendEvent(row: NewChatEvent): Promise<ChatEventRow>
    /** Events of an instance (or one of its sessions) after a cursor, oldest first. */
    listEvents(
      instanceId: string,
      q: { after: number; sessionId?: string; limit: number },
    ): Promise<ChatEventRow[]>
    lastCursor(instanceId: string): Promise<number>
    /** Sessions whose last turn has a `session` event but no `done` or `error` after it. */
    unfinishedTurns(): Promise<Array<{ instance_id: string; session_id: string; cursor: number }>>
  }
  webSessions: {
    create(row: WebSessionRow): Promise<void>
    byTokenHash(hash: string): Promise<WebSessionRow | undefined>
    byId(id: string): Promise<WebSessionRow | undefined>
    touch(id: string, lastSeenAt: string, expiresAt: string): Promise<void>
    remove(id: string): Promise<void>
    removeByUser(userId: string): Promise<void>
    /** Deletes sessions that expired before `now`. */
    prune(now: string): Promise<void>
  }
  /** The inbox, swarms and pipelines. */
  automation: AutomationStore
  /** Who did what: the write requests to the API. */
  audit: AuditStore
  /** The chat channels of instances' OpenClaw (tokens sealed). */
  channels: ChannelsStore
  /** Instances' lifecycle events, the owners' webhooks and their delivery queue. */
  events: EventsStore
  /** Which replica runs each session's chat turn, kept alive by its heartbeat. */
  turns: TurnsStore
  /** The hosts that run instances (runners) and the lifecycle jobs they claim. */
  runners: RunnersStore
  /** WebSocket tickets, rate counters and sign-in throttling, shared by every replica. */
  sharedState: SharedStateStore
  /** Which database: SQL that differs (locks, SKIP LOCKED) asks. */
  readonly dialect: 'sqlite' | 'postgres'
  /**
   * Inside a transaction: waits until no other transaction holds `key`, then holds it until this
   * one ends (a PostgreSQL advisory transaction lock; SQLite's single writer needs none). For
   * check-then-write races between replicas: capacity, host uids, claims.
   */
  lock(key: string): Promise<void>
  /** Runs fn in one transaction; the store passed to fn sees and writes inside it. */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>
  close(): Promise<void>
}
