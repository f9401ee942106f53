import type { Config } from '../config.js'
import type { Store } from './store.js'

export type * from './store.js'

/** The one factory that opens the store named in the config. */
export async function openStore(config: Pick<Config, 'dataDir' | 'store'>): Promise<Store> {
  switch (config.store.kind) {
    case 'sqlite': {
      const { openSqliteStore } = await import('./sqlite.js')
      return openSqliteStore(config.dataDir)
    }
    case 'postgres': {
      const { openPostgresStore } = await import('./postgres.js')
      if (!config.store.databaseUrl) throw new Error('the postgres store needs CLAWPORT_DATABASE_URL')
      return openPostgresStore(config.store.databaseUrl)
    }
    default: {
      const never: never = config.store.kind
      throw new Error(`unknown store ${String(never)}`)
    }
  }
}
