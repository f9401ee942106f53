import type { Config } from '../config.js'
import type { Logger } from '../log.js'
import type { InstanceDriver } from './driver.js'

/** The one factory that picks the instance driver named in the config. */
export async function createDriver(config: Config, log: Logger): Promise<InstanceDriver> {
  switch (config.driver) {
    case 'local': {
      const { LocalDriver } = await import('./local/local-driver.js')
      return new LocalDriver(config, log.child({ component: 'driver.local' }))
    }
    default: {
      const never: never = config.driver
      throw new Error(`unknown driver ${String(never)}`)
    }
  }
}
