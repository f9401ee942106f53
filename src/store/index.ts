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
    default: {
      const never: never = config.store
      throw new Error(`unknown store ${String(never)}`)
    }
  }
}
