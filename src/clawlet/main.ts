import { readFileSync } from 'node:fs'
import { chmod, unlink } from 'node:fs/promises'
import { BASE_ENV, instanceEnv } from './exec.js'
import { createClawletServer } from './server.js'

/**
 * The clawlet's entry point, run inside the instance as its own unprivileged user:
 * `node dist/clawlet/main.js` with CLAWLET_SOCKET naming the Unix socket to listen on.
 */

const DEFAULT_SOCKET = '/run/clawport/clawlet.sock'
const SHUTDOWN_GRACE_MS = 5_000

function log(level: 'info' | 'error', msg: string, extra: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), msg, ...extra })}\n`)
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string
    }
    return pkg.version ?? '0.0.0'
  } catch {
    return '0.0.0'
  }
}

async function main(): Promise<void> {
  const socketPath = process.env.CLAWLET_SOCKET || DEFAULT_SOCKET
  const server = createClawletServer({
    version: readVersion(),
    execEnv: { ...BASE_ENV, ...instanceEnv(process.env) },
    logError: (err, route) =>
      log('error', 'request failed', { route, err: err instanceof Error ? err.stack : String(err) }),
  })
  // A socket left by a previous run would make listen fail with EADDRINUSE.
  await unlink(socketPath).catch(() => {})
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => {
      server.off('error', reject)
      resolve()
    })
  })
  await chmod(socketPath, 0o600)
  log('info', 'clawlet listening', { socket: socketPath, pid: process.pid })

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log('info', 'clawlet stopping', { signal })
    server.close(() => {
      unlink(socketPath)
        .catch(() => {})
        .finally(() => process.exit(0))
    })
    server.closeIdleConnections()
    setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS).unref()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch((err: unknown) => {
  log('error', 'clawlet failed to start', { err: err instanceof Error ? err.stack : String(err) })
  process.exit(1)
})
