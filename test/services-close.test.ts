import { createHook } from 'node:async_hooks'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { createServices } from '../src/core/services.js'
import { createLogger } from '../src/log.js'
import { TEST_ENV } from './helpers/plans.js'

/** A timer as Node keeps it: whether it still holds the process open, and whether it is done. */
interface Timer {
  hasRef(): boolean
  _destroyed: boolean
}

/**
 * Closed services leave nothing running: a short-lived process that opens them (every
 * `clawport admin` command) ends as soon as its work is done, not when a forgotten timer fires.
 */
describe('closing the services', () => {
  it('leaves no timer of theirs holding the process open', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'clawport-close-'))
    try {
      // Every timer made while the services live, to see which still hold the process open.
      const timers: Timer[] = []
      const hook = createHook({
        init(_id, type, _trigger, resource) {
          if (type === 'Timeout') timers.push(resource as Timer)
        },
      }).enable()
      try {
        const services = await createServices(
          loadConfig({ ...TEST_ENV, CLAWPORT_DATA_DIR: dataDir, CLAWPORT_LOG_LEVEL: 'silent' }),
          createLogger('silent'),
        )
        await services.accounts.createUser({ email: 'closing@example.com' })
        await services.close()
      } finally {
        hook.disable()
      }
      expect(timers.length).toBeGreaterThan(0)
      const holding = timers.filter((t) => !t._destroyed && t.hasRef())
      expect(holding.map((t) => String((t as unknown as { _onTimeout: unknown })._onTimeout))).toEqual([])
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})
