// The OpenAPI document of the built server (dist/), without starting a server: the SDK's
// types are generated from it. Run directly, it prints the document.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const dist = path.resolve(import.meta.dirname, '../dist')
const { loadConfig } = await import(`${dist}/config.js`)
const { createServices } = await import(`${dist}/core/services.js`)
const { buildApp } = await import(`${dist}/http/app.js`)
const { createLogger } = await import(`${dist}/log.js`)

/** The document as the server serves it at /api/openapi.json. */
export async function openapiDocument() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-openapi-'))
  try {
  const config = loadConfig({ CLAWPORT_DATA_DIR: dataDir, CLAWPORT_LOG_LEVEL: 'silent', CLAWPORT_GATEWAY: 'off' })
  const log = createLogger('silent')
  const services = await createServices(config, log)
  const app = await buildApp(services, log)
  await app.ready()
  const doc = app.swagger()
  await app.close()
  await services.close()
  return doc
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

if (process.argv[1] === import.meta.filename) {
  process.stdout.write(`${JSON.stringify(await openapiDocument(), null, 2)}\n`)
}
