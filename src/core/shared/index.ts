import type { StoreConfig } from '../../config.js'
import type { Logger } from '../../log.js'
import { type EventBus, MemoryBus } from './bus.js'

export { type BusChannel, type EventBus, MemoryBus } from './bus.js'

/** The one factory: the in-process bus for one server (SQLite), LISTEN/NOTIFY for replicas. */
export async function createBus(store: StoreConfig, log: Logger): Promise<EventBus> {
  switch (store.kind) {
    case 'sqlite':
      return new MemoryBus()
    case 'postgres': {
      if (!store.databaseUrl) throw new Error('the postgres store needs CLAWPORT_DATABASE_URL')
      const { PgBus } = await import('./pg-bus.js')
      const bus = new PgBus(store.databaseUrl, log)
      await bus.start()
      return bus
    }
    default: {
      const never: never = store.kind
      throw new Error(`unknown store ${String(never)}`)
    }
  }
}
