// Destroys every instance in a data folder with the real driver: stops sandboxes, removes
// cgroups, mounts and folders. Run as `node test/helpers/cleanup.mjs <dataDir>` after tests.
import fs from 'node:fs'
import path from 'node:path'
import { loadConfig } from '../../dist/config.js'
import { createDriver } from '../../dist/drivers/index.js'
import { createLogger } from '../../dist/log.js'

const dataDir = process.argv[2]
if (!dataDir) throw new Error('usage: cleanup.ts <dataDir>')
const config = loadConfig({ ...process.env, CLAWPORT_DATA_DIR: dataDir })
const driver = await createDriver(config, createLogger('silent'))
const dir = path.join(dataDir, 'instances')
for (const id of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
  await driver.destroy(id)
}
