import type { Config } from '../config.js'
import type { Store } from './store.js'

export type * from './store.js'

/** The one factory that opens the store named in the config. */
export async function openStore(config: Config): Promise<Store> {
  switch (config.store) {
    case 'sqlite': {
      const { openSqliteStore } = await import('./sqlite.js')
      return openSqliteStore(config.dataDir)
    }
    case 'postgres': {
      const { openPostgresStore } = await import('./postgres.js')
      if (!config.databaseUrl) throw new Error('the postgres store needs CLAWPORT_DATABASE_URL')
      return openPostgresStore(config.databaseUrl)
    }
    default: {
      const never: never = config.store
      throw new Error(`unknown store ${String(never)}`)
    }
  }
}
