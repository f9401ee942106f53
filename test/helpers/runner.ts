import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process'
import path from 'node:path'
import { REPO } from './server.ts'

const BIN = path.join(REPO, 'bin/clawport.js')

/** Where a test runner serves and what it is told. */
export interface RunnerSpec {
  /** The control plane its instances call back (`--server`). */
  server: string
  name: string
  /** HOST:PORT it listens on; it advertises https://HOST:PORT. */
  listen: string
  dataDir: string
  /** CLAWPORT_DATABASE_URL, CLAWPORT_RUNNER_TOKEN, CLAWPORT_UID_BASE and the like. */
  env: Record<string, string>
  memoryMb?: number
  /** How to start it (a network namespace's `spawn`); default: this host, its own process group. */
  spawn?: (cmd: string, args: string[], opts: SpawnOptions) => ChildProcess
}

/** A started `clawport runner`: its process, what it printed, and its ready line. */
export interface RunnerProcess {
  proc: ChildProcess
  output: string
  ready: string
}

/**
 * Starts a real `clawport runner` and resolves once it printed its ready line (with the line),
 * or rejects with what it printed when it exits or takes over a minute.
 */
export function startRunner(spec: RunnerSpec): Promise<RunnerProcess> {
  const args = [
    BIN,
    'runner',
    '--server',
    spec.server,
    '--name',
    spec.name,
    '--listen',
    spec.listen,
    '--advertise',
    `https://${spec.listen}`,
    '--data-dir',
    spec.dataDir,
    ...(spec.memoryMb ? ['--memory-mb', String(spec.memoryMb)] : []),
  ]
  const opts: SpawnOptions = {
    env: { ...process.env, CLAWPORT_LOG_LEVEL: 'warn', ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }
  const proc = spec.spawn
    ? spec.spawn(process.execPath, args, opts)
    : spawn(process.execPath, args, { ...opts, detached: true })
  const started: RunnerProcess = { proc, output: '', ready: '' }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`runner ${spec.name} did not start:\n${started.output}`)),
      60_000,
    )
    proc.stdout?.on('data', (c: Buffer) => {
      started.output += c.toString()
      const m = /^clawport runner .* ready .*$/m.exec(started.output)
      if (m && !started.ready) {
        started.ready = m[0]
        clearTimeout(timer)
        resolve(started)
      }
    })
    proc.stderr?.on('data', (c: Buffer) => {
      started.output += c.toString()
    })
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`runner ${spec.name} exited with ${code}:\n${started.output}`))
    })
  })
}
