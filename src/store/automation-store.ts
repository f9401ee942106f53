import type { Insertable, Kysely, Selectable, Updateable } from 'kysely'
import {
  decodeJson,
  JsonObject,
  PipelineSpecJson,
  StepStatesJson,
  type StoredPipelineSpec,
  type StoredStepStates,
} from './codecs.js'
import type { Database } from './schema.js'

/** A message for an instance's agent, kept until it is delivered and answered. */
export interface InboxMessagesTable {
  id: string
  user_id: string
  target_id: string
  from_instance: string | null
  /** `user`, `program`, `instance`, `swarm` or `pipeline`. */
  sender: string
  reply_to: string | null
  in_reply_to: string | null
  correlation_id: string | null
  idempotency_key: string | null
  message: string
  /** `pending`, `delivered`, `replied` or `failed`. */
  status: string
  attempts: number
  next_attempt_at: string
  session_id: string | null
  reply: string | null
  error: string | null
  created_at: string
  updated_at: string
  delivered_at: string | null
  replied_at: string | null
  /** The replica delivering it (from its claim until its outcome), and until when. */
  lease_owner?: string | null
  lease_expires_at?: string | null
}

export interface InboxSessionsTable {
  instance_id: string
  session_id: string
}

export interface SwarmsTable {
  id: string
  user_id: string
  name: string
  created_at: string
  updated_at: string
}

export interface SwarmMembersTable {
  instance_id: string
  swarm_id: string
  position: number
  role: string | null
  instructions: string | null
  created_at: string
}

/** A stored pipeline; `spec` is its JSON definition, the webhook secret kept as a SHA-256 hash. */
export interface PipelinesTable {
  id: string
  user_id: string
  name: string
  spec: string
  schedule: string | null
  next_run_at: string | null
  webhook_hash: string | null
  created_at: string
  updated_at: string
}

/** One run of a pipeline; `steps` is the JSON state of every step, rewritten as they move. */
export interface PipelineRunsTable {
  id: string
  pipeline_id: string
  user_id: string
  trigger: string
  /** `queued`, `running`, `succeeded`, `failed` or `canceled`. */
  status: string
  input: string
  steps: string
  error: string | null
  created_at: string
  updated_at: string
  started_at: string | null
  finished_at: string | null
  /** The instance whose door started the run: the run is confined to that instance's scope. */
  scope_instance_id: string | null
  /** The replica executing it, and until when (its heartbeat renews it); expired: anyone may resume it. */
  lease_owner?: string | null
  lease_expires_at?: string | null
}

type AutomationTables = {
  inbox_messages: InboxMessagesTable
  inbox_sessions: InboxSessionsTable
  swarms: SwarmsTable
  swarm_members: SwarmMembersTable
  pipelines: PipelinesTable
  pipeline_runs: PipelineRunsTable
}

export type InboxRow = Selectable<InboxMessagesTable>
export type InboxUpdate = Updateable<InboxMessagesTable>
export type SwarmRow = Selectable<SwarmsTable>
export type SwarmMemberRow = Selectable<SwarmMembersTable>
/** A pipeline as core sees it: `spec` decoded. */
export type PipelineRow = Omit<Selectable<PipelinesTable>, 'spec'> & { spec: StoredPipelineSpec }
export type PipelineUpdate = Omit<Updateable<PipelinesTable>, 'spec'> & { spec?: StoredPipelineSpec }
type RunJson = { input: Record<string, unknown>; steps: StoredStepStates }
/** A run as core sees it: `input` and `steps` decoded. */
export type PipelineRunRow = Omit<Selectable<PipelineRunsTable>, keyof RunJson> & RunJson
export type NewPipelineRun = Omit<Insertable<PipelineRunsTable>, keyof RunJson> & RunJson
export type PipelineRunUpdate = Omit<Updateable<PipelineRunsTable>, keyof RunJson> & Partial<RunJson>

/** Persistence of the inbox, swarms and pipelines. */
export interface AutomationStore {
  inbox: {
    /** Inserts unless the target already has a message with the same idempotency key; returns the stored one. */
    insert(row: Insertable<InboxMessagesTable>): Promise<{ row: InboxRow; created: boolean }>
    get(id: string): Promise<InboxRow | undefined>
    update(id: string, patch: InboxUpdate): Promise<InboxRow | undefined>
    /** Pending messages due at `now` that no replica is delivering, oldest first. */
    due(now: string, limit: number): Promise<InboxRow[]>
    /**
     * Takes a due pending message for `owner` until `until`, if nobody else has it: one
     * conditional update, so two replicas never both deliver it. Undefined when it was not taken.
     */
    claim(id: string, owner: string, now: string, until: string): Promise<InboxRow | undefined>
    /** Extends the leases `owner` holds on messages not settled yet. */
    renew(owner: string, until: string): Promise<void>
    /** Gives a message's lease back (its delivery by `owner` ended, whatever its outcome). */
    release(id: string, owner: string): Promise<void>
    /**
     * Fails delivered messages whose deliverer's lease expired before `now` (it died waiting
     * for the reply); returns those it failed, each failed by one caller only.
     */
    failAbandoned(now: string, error: string): Promise<InboxRow[]>
    byStatus(status: string): Promise<InboxRow[]>
    /** Messages sent to or from an instance, newest first. */
    listFor(instanceId: string, limit: number): Promise<InboxRow[]>
    listByCorrelation(userId: string, correlationId: string): Promise<InboxRow[]>
    /** Whether a chat message with this id exists (delivery stores the message under the inbox id). */
    chatMessageExists(id: string): Promise<boolean>
    sessionOf(instanceId: string): Promise<string | undefined>
    setSession(instanceId: string, sessionId: string): Promise<void>
  }
  swarms: {
    insert(row: SwarmRow): Promise<void>
    get(id: string): Promise<SwarmRow | undefined>
    listByUser(userId: string): Promise<SwarmRow[]>
    touch(id: string, at: string): Promise<void>
    remove(id: string): Promise<void>
    addMember(row: SwarmMemberRow): Promise<void>
    members(swarmId: string): Promise<SwarmMemberRow[]>
    memberOf(instanceId: string): Promise<SwarmMemberRow | undefined>
  }
  pipelines: {
    insert(row: PipelineRow): Promise<void>
    get(id: string): Promise<PipelineRow | undefined>
    listByUser(userId: string): Promise<PipelineRow[]>
    update(id: string, patch: PipelineUpdate): Promise<void>
    /** Moves a schedule forward only if nobody else did: true when this caller claimed the run. */
    claimSchedule(id: string, expected: string, next: string | null): Promise<boolean>
    scheduled(): Promise<PipelineRow[]>
    remove(id: string): Promise<void>
    insertRun(row: NewPipelineRun): Promise<void>
    getRun(id: string): Promise<PipelineRunRow | undefined>
    listRuns(pipelineId: string, limit: number): Promise<PipelineRunRow[]>
    /** Writes a run; with `owner`, only while owner holds its lease (false: it does not). */
    updateRun(id: string, patch: PipelineRunUpdate, owner?: string): Promise<boolean>
    /**
     * Ends an unfinished run with `patch` whoever executes it, freeing its lease: its executor's
     * next write (or heartbeat) finds the lease gone and stops. False when it had finished.
     */
    cancelRun(id: string, patch: PipelineRunUpdate): Promise<boolean>
    /** Runs not finished (queued or running), oldest first. */
    unfinishedRuns(): Promise<PipelineRunRow[]>
    /**
     * Takes an unfinished run for `owner` until `until` if its lease is free, expired at `now`
     * or already owner's (`force`: whatever its lease); true when taken. One conditional update.
     */
    claimRun(id: string, owner: string, now: string, until: string, force?: boolean): Promise<boolean>
    /** Extends owner's leases on these unfinished runs; returns the ids still owner's. */
    renewRuns(owner: string, ids: string[], until: string): Promise<string[]>
    /** Frees owner's leases on unfinished runs (a stop): another replica may resume them at once. */
    releaseRuns(owner: string): Promise<void>
  }
}

/** The automation store over the main database's Kysely instance. */
export function kyselyAutomationStore(base: Kysely<Database>): AutomationStore {
  const db = base.withTables<AutomationTables>()
  return {
    inbox: {
      async insert(row) {
        const inserted = await db
          .insertInto('inbox_messages')
          .values(row)
          .onConflict((oc) => oc.columns(['target_id', 'idempotency_key']).doNothing())
          .returningAll()
          .executeTakeFirst()
        if (inserted) return { row: inserted, created: true }
        const existing = await db
          .selectFrom('inbox_messages')
          .selectAll()
          .where('target_id', '=', row.target_id)
          .where('idempotency_key', '=', row.idempotency_key ?? '')
          .executeTakeFirstOrThrow()
        return { row: existing, created: false }
      },
      get: (id) => db.selectFrom('inbox_messages').selectAll().where('id', '=', id).executeTakeFirst(),
      update: (id, patch) =>
        db.updateTable('inbox_messages').set(patch).where('id', '=', id).returningAll().executeTakeFirst(),
      due: (now, limit) =>
        db
          .selectFrom('inbox_messages')
          .selectAll()
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
          .orderBy('created_at')
          .limit(limit)
          .execute(),
      claim: (id, owner, now, until) =>
        // Under READ COMMITTED a second claimer waits for the first's row lock, then finds the
        // lease taken when it re-checks the condition: only one update matches.
        db
          .updateTable('inbox_messages')
          .set({ lease_owner: owner, lease_expires_at: until })
          .where('id', '=', id)
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
          .returningAll()
          .executeTakeFirst(),
      async renew(owner, until) {
        await db
          .updateTable('inbox_messages')
          .set({ lease_expires_at: until })
          .where('lease_owner', '=', owner)
          .where('status', 'in', ['pending', 'delivered'])
          .execute()
      },
      async release(id, owner) {
        await db
          .updateTable('inbox_messages')
          .set({ lease_owner: null, lease_expires_at: null })
          .where('id', '=', id)
          .where('lease_owner', '=', owner)
          .execute()
      },
      failAbandoned: (now, error) =>
        db
          .updateTable('inbox_messages')
          .set({
            status: 'failed',
            error,
            reply: null,
            lease_owner: null,
            lease_expires_at: null,
            updated_at: now,
          })
          .where('status', '=', 'delivered')
          .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
          .returningAll()
          .execute(),
      byStatus: (status) =>
        db
          .selectFrom('inbox_messages')
          .selectAll()
          .where('status', '=', status)
          .orderBy('created_at')
          .execute(),
      listFor: (instanceId, limit) =>
        db
          .selectFrom('inbox_messages')
          .selectAll()
          .where((eb) => eb.or([eb('target_id', '=', instanceId), eb('from_instance', '=', instanceId)]))
          .orderBy('created_at', 'desc')
          .limit(limit)
          .execute(),
      listByCorrelation: (userId, correlationId) =>
        db
          .selectFrom('inbox_messages')
          .selectAll()
          .where('user_id', '=', userId)
          .where('correlation_id', '=', correlationId)
          .orderBy('created_at')
          .execute(),
      async chatMessageExists(id) {
        const r = await base.selectFrom('chat_messages').select('id').where('id', '=', id).executeTakeFirst()
        return r !== undefined
      },
      async sessionOf(instanceId) {
        const r = await db
          .selectFrom('inbox_sessions')
          .select('session_id')
          .where('instance_id', '=', instanceId)
          .executeTakeFirst()
        return r?.session_id
      },
      async setSession(instanceId, sessionId) {
        await db
          .insertInto('inbox_sessions')
          .values({ instance_id: instanceId, session_id: sessionId })
          .onConflict((oc) => oc.column('instance_id').doUpdateSet({ session_id: sessionId }))
          .execute()
      },
    },
    swarms: {
      async insert(row) {
        await db.insertInto('swarms').values(row).execute()
      },
      get: (id) => db.selectFrom('swarms').selectAll().where('id', '=', id).executeTakeFirst(),
      listByUser: (userId) =>
        db
          .selectFrom('swarms')
          .selectAll()
          .where('user_id', '=', userId)
          .orderBy('created_at', 'desc')
          .execute(),
      async touch(id, at) {
        await db.updateTable('swarms').set({ updated_at: at }).where('id', '=', id).execute()
      },
      async remove(id) {
        await db.deleteFrom('swarm_members').where('swarm_id', '=', id).execute()
        await db.deleteFrom('swarms').where('id', '=', id).execute()
      },
      async addMember(row) {
        await db.insertInto('swarm_members').values(row).execute()
      },
      members: (swarmId) =>
        db
          .selectFrom('swarm_members')
          .selectAll()
          .where('swarm_id', '=', swarmId)
          .orderBy('position')
          .execute(),
      memberOf: (instanceId) =>
        db.selectFrom('swarm_members').selectAll().where('instance_id', '=', instanceId).executeTakeFirst(),
    },
    pipelines: {
      async insert(row) {
        await db
          .insertInto('pipelines')
          .values({ ...row, spec: JSON.stringify(row.spec) })
          .execute()
      },
      async get(id) {
        const row = await db.selectFrom('pipelines').selectAll().where('id', '=', id).executeTakeFirst()
        return row && decodePipeline(row)
      },
      async listByUser(userId) {
        const rows = await db
          .selectFrom('pipelines')
          .selectAll()
          .where('user_id', '=', userId)
          .orderBy('created_at', 'desc')
          .execute()
        return rows.map(decodePipeline)
      },
      async update(id, patch) {
        const { spec, ...rest } = patch
        await db
          .updateTable('pipelines')
          .set({ ...rest, ...(spec === undefined ? {} : { spec: JSON.stringify(spec) }) })
          .where('id', '=', id)
          .execute()
      },
      async claimSchedule(id, expected, next) {
        const r = await db
          .updateTable('pipelines')
          .set({ next_run_at: next })
          .where('id', '=', id)
          .where('next_run_at', '=', expected)
          .executeTakeFirst()
        return Number(r.numUpdatedRows) === 1
      },
      scheduled: async () =>
        (await db.selectFrom('pipelines').selectAll().where('next_run_at', 'is not', null).execute()).map(
          decodePipeline,
        ),
      async remove(id) {
        await db.deleteFrom('pipeline_runs').where('pipeline_id', '=', id).execute()
        await db.deleteFrom('pipelines').where('id', '=', id).execute()
      },
      async insertRun(row) {
        await db
          .insertInto('pipeline_runs')
          .values({ ...row, input: JSON.stringify(row.input), steps: JSON.stringify(row.steps) })
          .execute()
      },
      async getRun(id) {
        const row = await db.selectFrom('pipeline_runs').selectAll().where('id', '=', id).executeTakeFirst()
        return row && decodeRun(row)
      },
      async listRuns(pipelineId, limit) {
        const rows = await db
          .selectFrom('pipeline_runs')
          .selectAll()
          .where('pipeline_id', '=', pipelineId)
          .orderBy('created_at', 'desc')
          .limit(limit)
          .execute()
        return rows.map(decodeRun)
      },
      async updateRun(id, patch, owner) {
        const r = await db
          .updateTable('pipeline_runs')
          .set(encodeRunUpdate(patch))
          .where('id', '=', id)
          .$if(owner !== undefined, (q) => q.where('lease_owner', '=', owner as string))
          .executeTakeFirst()
        return Number(r.numUpdatedRows) === 1
      },
      async cancelRun(id, patch) {
        const r = await db
          .updateTable('pipeline_runs')
          .set({ ...encodeRunUpdate(patch), lease_owner: null, lease_expires_at: null })
          .where('id', '=', id)
          .where('status', 'in', ['queued', 'running'])
          .executeTakeFirst()
        return Number(r.numUpdatedRows) === 1
      },
      async unfinishedRuns() {
        const rows = await db
          .selectFrom('pipeline_runs')
          .selectAll()
          .where('status', 'in', ['queued', 'running'])
          .orderBy('created_at')
          .execute()
        return rows.map(decodeRun)
      },
      async claimRun(id, owner, now, until, force = false) {
        const r = await db
          .updateTable('pipeline_runs')
          .set({ lease_owner: owner, lease_expires_at: until })
          .where('id', '=', id)
          .where('status', 'in', ['queued', 'running'])
          .$if(!force, (q) =>
            q.where((eb) =>
              eb.or([
                eb('lease_owner', 'is', null),
                eb('lease_owner', '=', owner),
                eb('lease_expires_at', 'is', null),
                eb('lease_expires_at', '<', now),
              ]),
            ),
          )
          .executeTakeFirst()
        return Number(r.numUpdatedRows) === 1
      },
      async renewRuns(owner, ids, until) {
        if (!ids.length) return []
        const rows = await db
          .updateTable('pipeline_runs')
          .set({ lease_expires_at: until })
          .where('id', 'in', ids)
          .where('lease_owner', '=', owner)
          .where('status', 'in', ['queued', 'running'])
          .returning('id')
          .execute()
        return rows.map((r) => r.id)
      },
      async releaseRuns(owner) {
        await db
          .updateTable('pipeline_runs')
          .set({ lease_owner: null, lease_expires_at: null })
          .where('lease_owner', '=', owner)
          .where('status', 'in', ['queued', 'running'])
          .execute()
      },
    },
  }
}

/** A stored pipeline with its spec decoded. */
function decodePipeline(row: Selectable<PipelinesTable>): PipelineRow {
  return { ...row, spec: decodeJson(PipelineSpecJson, row.spec, 'pipelines.spec', row.id) }
}

/** A stored run with its input and steps decoded. */
function decodeRun(row: Selectable<PipelineRunsTable>): PipelineRunRow {
  return {
    ...row,
    input: decodeJson(JsonObject, row.input, 'pipeline_runs.input', row.id),
    steps: decodeJson(StepStatesJson, row.steps, 'pipeline_runs.steps', row.id),
  }
}

/** A run patch with its JSON columns encoded. */
function encodeRunUpdate(patch: PipelineRunUpdate): Updateable<PipelineRunsTable> {
  const { input, steps, ...rest } = patch
  return {
    ...rest,
    ...(input === undefined ? {} : { input: JSON.stringify(input) }),
    ...(steps === undefined ? {} : { steps: JSON.stringify(steps) }),
  }
}
