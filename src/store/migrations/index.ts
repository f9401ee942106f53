import type { Kysely } from 'kysely'
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration'
import type { Database } from '../schema.js'
import { accounts } from './0001-accounts.js'
import { modelSettings } from './0002-model-settings.js'
import { chat } from './0003-chat.js'
import { webSessions } from './0004-web-sessions.js'
import { automation } from './0005-automation.js'
import { audit } from './0006-audit.js'
import { auditRetention } from './0007-audit-retention.js'
import { instancePlan } from './0008-instance-plan.js'
import { runScope } from './0009-run-scope.js'
import { auditAddress } from './0010-audit-address.js'
import { instanceNetwork } from './0011-instance-network.js'
import { allowedHosts } from './0012-allowed-hosts.js'
import { instanceChannels } from './0013-instance-channels.js'
import { lifecycleEvents } from './0014-lifecycle-events.js'
import { embeddingModel } from './0016-embedding-model.js'
import { chatTurns } from './0018-chat-turns.js'
import { runLeases } from './0019-run-leases.js'
import { sharedState } from './0020-shared-state.js'
import { instanceUse } from './0021-instance-use.js'
import { runners } from './0022-runners.js'
import { userDisabled } from './0023-user-disabled.js'

/**
 * Versioned migrations, applied in name order at start. One file per migration; never edit
 * one that has shipped, add the next number instead.
 */
const MIGRATIONS: Record<string, Migration> = {
  '0001_accounts_and_instances': accounts,
  '0002_model_settings': modelSettings,
  '0003_chat': chat,
  '0004_web_sessions': webSessions,
  '0005_automation': automation,
  '0006_audit': audit,
  '0007_audit_retention': auditRetention,
  '0008_instance_plan': instancePlan,
  '0009_run_scope': runScope,
  '0010_audit_address': auditAddress,
  '0011_instance_network': instanceNetwork,
  '0012_allowed_hosts': allowedHosts,
  '0013_instance_channels': instanceChannels,
  '0014_lifecycle_events': lifecycleEvents,
  '0016_embedding_model': embeddingModel,
  '0018_chat_turns': chatTurns,
  '0019_run_leases': runLeases,
  '0020_shared_state': sharedState,
  '0021_instance_use': instanceUse,
  '0022_runners': runners,
  '0023_user_disabled': userDisabled,
}

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return MIGRATIONS
  },
}

/** Applies every migration not yet applied; on failure closes the database and says which one failed. */
export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error || failed) {
    await db.destroy()
    throw new Error(`store migration ${failed?.migrationName ?? ''} failed: ${String(error)}`)
  }
}
