import { request } from 'node:http'
import { CONTROL_PORT, EMBEDDING_MODEL_ALIAS, PROVIDER_ID } from '../wire/gateway.js'

/**
 * The parts of the gateway's config that make it the whole OpenClaw agent: its bundled plugins,
 * memory search and the browser. Every key and plugin id was checked against the pinned package
 * (`openclaw config validate` refuses unknown keys and warns on unknown plugins).
 */

/**
 * Bundled plugins the gateway loads; every other plugin of the package (providers, channels,
 * remote services) stays off. `web-readability` and `document-extract` only parse pages and
 * documents the agent fetched, locally.
 */
export const GATEWAY_PLUGINS: readonly string[] = [
  'browser',
  'memory-core',
  'web-readability',
  'document-extract',
]

/** Debian's Chromium binary itself (the /usr/bin/chromium wrapper reads host files first). */
export const CHROMIUM_PATH = '/usr/lib/chromium/chromium'

/** What the instance offers the gateway's tools. */
export interface GatewayFeatures {
  /** The instance's X display, when it has a desktop. */
  display?: string
  /** Whether the broker serves embeddings for this instance's owner. */
  embeddings: boolean
}

export function pluginsConfig(): object {
  return {
    enabled: true,
    allow: [...GATEWAY_PLUGINS],
    // Dreaming runs background model turns on a schedule: cost nobody asked for.
    entries: { 'memory-core': { config: { dreaming: { enabled: false } } } },
  }
}

/**
 * Semantic recall through the broker's embeddings (the `clawport` provider's endpoint and
 * placeholder key, so no key of its own sits in the config); keyword-only without them, because
 * a named provider that cannot answer makes `memory_search` fail instead of falling back.
 */
export function memoryConfig(embeddings: boolean): object {
  return {
    search: embeddings ? { provider: PROVIDER_ID, model: EMBEDDING_MODEL_ALIAS } : { provider: 'none' },
  }
}

/**
 * Chromium on the instance's desktop, so its user watches the agent browse and can take over;
 * headless without one. Its own sandbox needs user namespaces, which the instance's sandbox
 * refuses: the instance is the sandbox. The instance's own loopback is its own, so pages the
 * agent serves there may be opened; the network policy limits the rest.
 */
export function browserConfig(display: string | undefined): object {
  return {
    enabled: true,
    executablePath: CHROMIUM_PATH,
    headless: !display,
    noSandbox: true,
    ssrfPolicy: { allowedHostnames: ['127.0.0.1', 'localhost'] },
  }
}

/** Asks the broker, through the instance's door, whether it serves embeddings; no answer is no. */
export function brokerServesEmbeddings(port = CONTROL_PORT, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/models', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: Array<{ id?: string }> }
          resolve(res.statusCode === 200 && !!body.data?.some((m) => m.id === EMBEDDING_MODEL_ALIAS))
        } catch {
          resolve(false)
        }
      })
      res.on('error', () => resolve(false))
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(false))
    req.end()
  })
}
