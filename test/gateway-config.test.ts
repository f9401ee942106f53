import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { gatewayConfig } from '../src/clawlet/gateway-config.js'
import { GATEWAY_PLUGINS } from '../src/clawlet/gateway-features.js'
import { REPO } from './helpers/sandbox.js'

const OPENCLAW = path.join(REPO, 'runtime/openclaw/node_modules/openclaw')
const NODE = path.join(REPO, 'node_modules/.bin/node')

/**
 * The config the clawlet writes, checked by the pinned OpenClaw itself: it refuses to start on
 * an unknown key, and ignores (with a warning) a plugin id it does not ship.
 */
describe.skipIf(!existsSync(OPENCLAW))('the gateway config against the pinned OpenClaw', () => {
  const dirs: string[] = []
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  const validate = async (config: object): Promise<string> => {
    const home = await mkdtemp(path.join(tmpdir(), 'openclaw-config-'))
    dirs.push(home)
    const state = path.join(home, '.openclaw')
    await mkdir(state)
    await writeFile(path.join(state, 'openclaw.json'), JSON.stringify(config))
    return execFileSync(NODE, [path.join(OPENCLAW, 'openclaw.mjs'), 'config', 'validate'], {
      env: { PATH: process.env.PATH, HOME: home, OPENCLAW_STATE_DIR: state, NO_COLOR: '1' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    })
  }
  const config = (features: { display?: string; embeddings: boolean }) =>
    gatewayConfig({
      token: 'a-token-of-sixteen-or-more',
      port: 18789,
      workspace: '/workspace',
      logFile: '/home/claw/.openclaw/logs/gateway.log',
      features,
    }) as Record<string, any>

  it.each([
    { display: ':1', embeddings: true },
    { display: ':1', embeddings: false },
    { embeddings: true },
    { embeddings: false },
  ])('is valid, every plugin known, with %o', async (features) => {
    const out = await validate(config(features))
    expect(out).toMatch(/Config valid/)
    expect(out).not.toMatch(/warning|not found/i)
  })

  it('loads only the listed plugins, with dreaming off', () => {
    const c = config({ embeddings: false })
    expect(c.plugins).toMatchObject({ enabled: true, allow: [...GATEWAY_PLUGINS] })
    expect(c.plugins.allow).toEqual(expect.arrayContaining(['browser', 'memory-core']))
    expect(c.plugins.entries['memory-core'].config.dreaming.enabled).toBe(false)
  })

  it('searches memory by keyword without embeddings, and through the broker with them', () => {
    expect(config({ embeddings: false }).memory).toEqual({ search: { provider: 'none' } })
    const semantic = config({ embeddings: true })
    expect(semantic.memory).toEqual({ search: { provider: 'clawport', model: 'embedding' } })
    // The provider it names is the broker, through the instance's door.
    expect(semantic.models.providers.clawport.baseUrl).toBe('http://127.0.0.1:18790/v1')
  })

  it('runs a headful Chromium on the desktop, headless without one', () => {
    expect(config({ display: ':1', embeddings: false }).browser).toMatchObject({
      enabled: true,
      executablePath: '/usr/lib/chromium/chromium',
      headless: false,
      noSandbox: true,
    })
    expect(config({ embeddings: false }).browser.headless).toBe(true)
    expect(existsSync('/usr/lib/chromium/chromium')).toBe(true)
  })
})
