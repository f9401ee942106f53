import { randomUUID } from 'node:crypto'
import type { ColumnType, Kysely, Selectable } from 'kysely'
import { decodeJson, JsonObject, StoredResources, StringRecord } from './codecs.js'
import type { Database } from './schema.js'

/** A host that runs instances, as it registered itself. */
export interface RunnersTable {
  id: string
  name: string
  /** The runner's endpoint, e.g. `https://10.0.0.5:7443`. */
  address: string
  /** SHA-256 fingerprint of the endpoint's TLS certificate (`AB:CD:...`): replicas pin it. */
  cert_sha256: string
  /** The certificate itself (PEM), the one trust anchor replicas accept for this runner. */
  cert_pem: string
  memory_mb: number
  max_instances: number
  /** The lowest host uid its sandboxes run as. */
  uid_base: number
  labels: string
  state: string
  version: string
  registered_at: string
  heartbeat_at: string
}

export interface RunnerJobsTable {
  id: ColumnType<number, never, never>
  runner_id: string
  instance_id: string
  kind: string
  input: string
  state: string
  output: ColumnType<string | null, string | null | undefined, string | null>
  error: ColumnType<string | null, string | null | undefined, string | null>
  created_at: string
  claimed_at: ColumnType<string | null, string | null | undefined, string | null>
  finished_at: ColumnType<string | null, string | null | undefined, string | null>
}

export type RunnerState = 'active' | 'draining'
export type RunnerJobKind = 'provision' | 'start' | 'stop' | 'destroy'
export type RunnerJobState = 'queued' | 'claimed' | 'done' | 'failed'

export interface RunnerRow extends Omit<Selectable<RunnersTable>, 'labels' | 'state'> {
  labels: Record<string, string>
  state: RunnerState
}

export interface RunnerJobRow
  extends Omit<Selectable<RunnerJobsTable>, 'input' | 'output' | 'kind' | 'state'> {
  kind: RunnerJobKind
  state: RunnerJobState
  input: Record<string, unknown>
  output: Record<string, unknown> | null
}

/** What a runner says of itself when it starts. */
export interface RunnerRegistration {
  name: string
  address: string
  cert_sha256: string
  cert_pem: string
  memory_mb: number
  max_instances: number
  uid_base: number
  labels: Record<string, string>
  version: string
  now: string
}

/** How many instances a runner holds and the memory their plans reserve. */
export interface RunnerLoad {
  runner_id: string | null
  instances: number
  memory_mb: number
}

/** The runners, their heartbeats and the lifecycle jobs they claim. */
export interface RunnersStore {
  /** Registers a runner by name (a restarted runner keeps its id and its `state`); returns its row. */
  register(r: RunnerRegistration): Promise<RunnerRow>
  /** Refreshes a runner's heartbeat; false when its row is gone (removed). */
  beat(id: string, now: string): Promise<boolean>
  get(id: string): Promise<RunnerRow | undefined>
  byName(name: string): Promise<RunnerRow | undefined>
  list(): Promise<RunnerRow[]>
  setState(id: string, state: RunnerState): Promise<RunnerRow | undefined>
  /** Deletes a runner's row and its jobs. */
  remove(id: string): Promise<void>
  /** Instances and reserved memory per runner (null: the in-process runner). */
  load(): Promise<RunnerLoad[]>
  /** Queues a job for a runner; returns its id. */
  enqueue(job: {
    runner_id: string
    instance_id: string
    kind: RunnerJobKind
    input: object
    now: string
  }): Promise<number>
  /**
   * Claims the runner's oldest queued job, in one statement: of two workers of one runner only
   * one gets it (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
   */
  claim(runnerId: string, now: string): Promise<RunnerJobRow | undefined>
  /** Writes a claimed job's outcome. */
  finish(
    id: number,
    outcome: { ok: true; output: object } | { ok: false; error: string },
    now: string,
  ): Promise<void>
  job(id: number): Promise<RunnerJobRow | undefined>
  /** Puts the runner's claimed jobs back in its queue (a restarted runner finishes them); returns how many. */
  requeueClaimed(runnerId: string): Promise<number>
  /** Deletes finished jobs older than `before`. */
  prune(before: string): Promise<void>
}

function decodeRunner(row: Selectable<RunnersTable>): RunnerRow {
  return {
    ...row,
    labels: decodeJson(StringRecord, row.labels, 'runners.labels', row.id),
    state: row.state === 'draining' ? 'draining' : 'active',
  }
}

function decodeJob(row: Selectable<RunnerJobsTable>): RunnerJobRow {
  const where = `runner_jobs#${row.id}`
  return {
    ...row,
    id: Number(row.id),
    kind: row.kind as RunnerJobKind,
    state: row.state as RunnerJobState,
    input: decodeJson(JsonObject, row.input, 'runner_jobs.input', where),
    output: row.output === null ? null : decodeJson(JsonObject, row.output, 'runner_jobs.output', where),
  }
}

export function kyselyRunnersStore(base: Kysely<Database>, dialect: 'sqlite' | 'postgres'): RunnersStore {
  const db = base.withTables<{ runners: RunnersTable; runner_jobs: RunnerJobsTable }>()
  const get = async (id: string) => {
    const row = await db.selectFrom('runners').selectAll().where('id', '=', id).executeTakeFirst()
    return row && decodeRunner(row)
  }
  return {
    register: async (r) => {
      const values = {
        id: randomUUID(),
        name: r.name,
        address: r.address,
        cert_sha256: r.cert_sha256,
        cert_pem: r.cert_pem,
        memory_mb: r.memory_mb,
        max_instances: r.max_instances,
        uid_base: r.uid_base,
        labels: JSON.stringify(r.labels),
        state: 'active',
        version: r.version,
        registered_at: r.now,
        heartbeat_at: r.now,
      }
      const { id: _new, state: _state, registered_at: _at, ...changed } = values
      const row = await db
        .insertInto('runners')
        .values(values)
        .onConflict((oc) => oc.column('name').doUpdateSet(changed))
        .returningAll()
        .executeTakeFirstOrThrow()
      return decodeRunner(row)
    },
    beat: async (id, now) => {
      const r = await db
        .updateTable('runners')
        .set({ heartbeat_at: now })
        .where('id', '=', id)
        .executeTakeFirst()
      return Number(r.numUpdatedRows) > 0
    },
    get,
    byName: async (name) => {
      const row = await db.selectFrom('runners').selectAll().where('name', '=', name).executeTakeFirst()
      return row && decodeRunner(row)
    },
    list: async () =>
      (await db.selectFrom('runners').selectAll().orderBy('name').execute()).map(decodeRunner),
    setState: async (id, state) => {
      await db.updateTable('runners').set({ state }).where('id', '=', id).execute()
      return get(id)
    },
    remove: async (id) => {
      await db.deleteFrom('runner_jobs').where('runner_id', '=', id).execute()
      await db.deleteFrom('runners').where('id', '=', id).execute()
    },
    load: async () => {
      // Summed here: the resources column is JSON, read alike by both databases.
      const rows = await base.selectFrom('instances').select(['id', 'runner_id', 'resources']).execute()
      const byRunner = new Map<string | null, RunnerLoad>()
      for (const r of rows) {
        const key = r.runner_id ?? null
        const load = byRunner.get(key) ?? { runner_id: key, instances: 0, memory_mb: 0 }
        load.instances++
        load.memory_mb += decodeJson(StoredResources, r.resources, 'instances.resources', r.id).memory_mb
        byRunner.set(key, load)
      }
      return [...byRunner.values()]
    },
    enqueue: async (job) => {
      const r = await db
        .insertInto('runner_jobs')
        .values({
          runner_id: job.runner_id,
          instance_id: job.instance_id,
          kind: job.kind,
          input: JSON.stringify(job.input),
          state: 'queued',
          created_at: job.now,
        })
        .returning('id')
        .executeTakeFirstOrThrow()
      return Number(r.id)
    },
    claim: async (runnerId, now) => {
      const oldest = db
        .selectFrom('runner_jobs')
        .select('id')
        .where('runner_id', '=', runnerId)
        .where('state', '=', 'queued')
        .orderBy('id')
        .limit(1)
      const row = await db
        .updateTable('runner_jobs')
        .set({ state: 'claimed', claimed_at: now })
        .where('id', '=', dialect === 'postgres' ? oldest.forUpdate().skipLocked() : oldest)
        .where('state', '=', 'queued')
        .returningAll()
        .executeTakeFirst()
      return row && decodeJob(row)
    },
    finish: async (id, outcome, now) => {
      await db
        .updateTable('runner_jobs')
        .set(
          outcome.ok
            ? { state: 'done', output: JSON.stringify(outcome.output), finished_at: now }
            : { state: 'failed', error: outcome.error, finished_at: now },
        )
        .where('id', '=', id)
        .execute()
    },
    job: async (id) => {
      const row = await db.selectFrom('runner_jobs').selectAll().where('id', '=', id).executeTakeFirst()
      return row && decodeJob(row)
    },
    requeueClaimed: async (runnerId) => {
      const r = await db
        .updateTable('runner_jobs')
        .set({ state: 'queued', claimed_at: null })
        .where('runner_id', '=', runnerId)
        .where('state', '=', 'claimed')
        .executeTakeFirst()
      return Number(r.numUpdatedRows)
    },
    prune: async (before) => {
      await db
        .deleteFrom('runner_jobs')
        .where('state', 'in', ['done', 'failed'])
        .where('finished_at', '<', before)
        .execute()
    },
  }
}
