import type { Config } from '../config.js'
import type { EventBus } from '../core/shared/index.js'
import type { Logger } from '../log.js'
import type { Store } from '../store/index.js'
import type { InstanceDriver } from './driver.js'
import { FleetDriver } from './fleet/fleet-driver.js'

/** The one factory that picks the instance driver named in the config. */
export async function createDriver(
  config: Pick<Config, 'dataDir' | 'driver'>,
  log: Logger,
): Promise<InstanceDriver> {
  switch (config.driver.kind) {
    case 'local': {
      const { LocalDriver } = await import('./local/local-driver.js')
      return new LocalDriver(config, log.child({ component: 'driver.local' }))
    }
    default: {
      const never: never = config.driver.kind
      throw new Error(`unknown driver ${String(never)}`)
    }
  }
}

/**
 * The server's driver: this host's (the in-process runner, unless CLAWPORT_LOCAL_INSTANCES=off)
 * and every registered runner's, each instance on the one holding it.
 */
export async function createFleetDriver(
  config: Pick<Config, 'dataDir' | 'driver' | 'fleet'>,
  log: Logger,
  store: Store,
  bus: EventBus,
): Promise<FleetDriver> {
  const local = config.fleet.localInstances === 'off' ? undefined : await createDriver(config, log)
  return new FleetDriver(
    local,
    store,
    bus,
    config.fleet.runnerToken,
    log.child({ component: 'driver.fleet' }),
  )
}
