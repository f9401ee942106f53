import { readFileSync } from 'node:fs'
import { chmod, unlink } from 'node:fs/promises'
import path from 'node:path'
import { setCloseOnExec } from '../door/unix-socket.js'
import { WORKSPACE } from '../wire/clawlet.js'
import { CONTROL_PORT } from '../wire/gateway.js'
import { installClawportSkill } from './clawport-skill.js'
import { startControlForward } from './control-forward.js'
import { Desktop } from './desktop.js'
import { readClawletEnv } from './env.js'
import { BASE_ENV } from './exec.js'
import { GatewaySupervisor } from './gateway.js'
import { RotatingLogFile } from './log-file.js'
import { createClawletServer } from './server.js'
import { attachSockets } from './sockets.js'
import { TerminalManager } from './terminal.js'
import { setWorkloadProcs } from './workload.js'

/**
 * The clawlet's entry point, run inside the instance as its own unprivileged user:
 * `node dist/clawlet/main.js` with CLAWLET_SOCKET naming the Unix socket to listen on.
 */

const SHUTDOWN_GRACE_MS = 5_000
const DESKTOP_DISPLAY = 1

/** Read once, here; the rest of the clawlet gets what it needs from it. */
const env = readClawletEnv(process.env)

/** The clawlet's and the desktop's own logs, beside the socket on the instance's disk. */
const logDir = path.dirname(env.socketPath)
const clawletLog = new RotatingLogFile(path.join(logDir, 'clawlet.log'))
const desktopLog = new RotatingLogFile(path.join(logDir, 'desktop.log'))

function log(
  level: 'info' | 'error',
  msg: string,
  extra: Record<string, unknown> = {},
  file: RotatingLogFile = clawletLog,
): void {
  const line = `${JSON.stringify({ level, time: new Date().toISOString(), msg, ...extra })}\n`
  process.stderr.write(line)
  file.write(line)
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
  const { socketPath, listenFd, desktop: geometry } = env
  setWorkloadProcs(env.workloadProcs)
  // The scoped Clawport API on the instance's door: commands, terminals and the agent reach it.
  const baseEnv: Record<string, string> = {
    ...BASE_ENV,
    ...env.instanceVars,
    CLAWPORT_API_URL: `http://127.0.0.1:${CONTROL_PORT}/api`,
  }
  // Programs started from commands and terminals draw on the instance's desktop.
  const execEnv = geometry ? { ...baseEnv, DISPLAY: `:${DESKTOP_DISPLAY}` } : baseEnv
  const desktop = geometry
    ? new Desktop({
        ...geometry,
        display: DESKTOP_DISPLAY,
        vncSocket: path.join(path.dirname(socketPath), 'vnc.sock'),
        env: baseEnv,
        log: (msg, extra) => log('info', msg, extra, desktopLog),
      })
    : undefined
  desktop?.start()
  const terminal = new TerminalManager({
    env: execEnv,
    cwd: WORKSPACE,
    idleTimeoutMs: env.terminalIdleMs,
  })
  const logError = (err: unknown, route: string) =>
    log('error', 'request failed', { route, err: err instanceof Error ? err.stack : String(err) })
  // Idle until the control plane sends the gateway's token (PUT /v1/gateway).
  const gateway = new GatewaySupervisor({
    entry: env.openclawEntry,
    home: execEnv.HOME ?? '/home/claw',
    workspace: WORKSPACE,
    baseEnv: execEnv,
    livenessMs: env.gatewayLivenessMs,
    log: (msg, extra) => log('info', msg, extra),
  })
  await installClawportSkill(WORKSPACE).catch((err: unknown) =>
    log('error', 'clawport skill not installed', { err: err instanceof Error ? err.message : String(err) }),
  )
  await startControlForward(env.controlSocket).catch((err: unknown) =>
    log('error', 'control forward failed', { err: err instanceof Error ? err.message : String(err) }),
  )
  const server = createClawletServer({
    version: readVersion(),
    execEnv,
    logError,
    terminal,
    desktop,
    gateway,
  })
  const sockets = attachSockets(server, { terminal, desktop, logError })
  // In a sandbox the driver binds the socket outside it and hands it in: listening on it here
  // makes this process the peer the control plane checks. Nothing started from here inherits it.
  if (listenFd !== undefined) setCloseOnExec(listenFd)
  // A socket left by a previous run would make listen fail with EADDRINUSE.
  else await unlink(socketPath).catch(() => {})
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    const listening = () => {
      server.off('error', reject)
      resolve()
    }
    if (listenFd !== undefined) server.listen({ fd: listenFd }, listening)
    else server.listen(socketPath, listening)
  })
  if (listenFd === undefined) await chmod(socketPath, 0o600)
  log('info', 'clawlet listening', {
    socket: listenFd === undefined ? socketPath : `fd ${listenFd}`,
    pid: process.pid,
  })

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log('info', 'clawlet stopping', { signal })
    terminal.closeAll()
    for (const ws of sockets.clients) ws.close(1001, 'instance stopping')
    desktop?.stop()
    void gateway.stop()
    server.close(() => {
      if (listenFd !== undefined) process.exit(0)
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
