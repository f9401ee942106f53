import type { PlanSpec } from '../config.js'
import type {
  ApiKeyRow,
  InstanceRow,
  InstanceUpdate,
  InviteRow,
  ModelUsageRow,
  NewInstance,
  NewModelUsage,
  PlanRow,
  SubscriptionRow,
  UserRow,
  UserSettingsRow,
} from './schema.js'

export type {
  ApiKeyRow,
  InstanceRow,
  InstanceUpdate,
  InviteRow,
  ModelUsageRow,
  NewInstance,
  NewModelUsage,
  PlanRow,
  SubscriptionRow,
  UserRow,
  UserSettingsRow,
}

/**
 * Persistence seen by core services. One implementation per database (SQLite today); core
 * code only ever sees this interface.
 */
export interface Store {
  users: {
    create(row: UserRow): Promise<void>
    byId(id: string): Promise<UserRow | undefined>
    byEmail(email: string): Promise<UserRow | undefined>
    count(): Promise<number>
    setPassword(id: string, passwordHash: string, at: string): Promise<void>
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
    remove(id: string): Promise<void>
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
  /** Runs fn in one transaction; the store passed to fn sees and writes inside it. */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>
  close(): Promise<void>
}
