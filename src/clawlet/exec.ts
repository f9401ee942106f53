import { type ChildProcess, spawn } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { constants } from 'node:os'
import { performance } from 'node:perf_hooks'
import { AppError, errors } from '../errors.js'
import { errnoCode } from '../lib/errno.js'
import { type ExecRequest, type ExecResult, OUTPUT_CAP_BYTES } from '../wire/clawlet.js'
import { fsError, resolvePath } from './paths.js'
import { inWorkload } from './workload.js'

/** How long to keep reading after the shell exits while a background child holds its pipes. */
export const PIPE_GRACE_MS = 75
/** After a kill, how often and how many times the group is signalled again while it lives. */
const KILL_INTERVAL_MS = 50
const KILL_ROUNDS = 40

/** The environment every command starts from, before the instance's and the request's own. */
export const BASE_ENV: Readonly<Record<string, string>> = {
  HOME: '/home/claw',
  USER: 'claw',
  LOGNAME: 'claw',
  SHELL: '/bin/sh',
  PATH: '/usr/local/bin:/usr/bin:/bin',
  LANG: 'C.UTF-8',
  TERM: 'xterm-256color',
}

const PASSED_PREFIXES = ['CLAWPORT_', 'OPENCLAW_', 'INSTANCE_']
const PASSED_NAMES = new Set([
  'TZ',
  'TMPDIR',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
])

/** The instance's own variables from the clawlet's environment that commands inherit. */
export function instanceEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue
    if (PASSED_NAMES.has(key) || PASSED_PREFIXES.some((p) => key.startsWith(p))) out[key] = value
  }
  return out
}

/** Collects a stream up to a cap, counting what it drops. */
class Capture {
  private chunks: Buffer[] = []
  private bytes = 0
  truncated = false

  push(chunk: Buffer): void {
    const room = OUTPUT_CAP_BYTES - this.bytes
    if (room <= 0) {
      this.truncated = true
      return
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk
    if (kept.length < chunk.length) this.truncated = true
    this.chunks.push(kept)
    this.bytes += kept.length
  }

  text(): string {
    return Buffer.concat(this.chunks, this.bytes).toString('utf8')
  }
}

/** Sends SIGKILL to a process group; false once the group has no member left. */
function signalGroup(pgid: number): boolean {
  try {
    process.kill(-pgid, 'SIGKILL')
    return true
  } catch {
    // ESRCH: the group is gone.
    return false
  }
}

/**
 * Kills a command's whole process group, and keeps at it for a moment while members remain:
 * a process reaped late or one forked as the signal went out (a fork bomb) is caught too.
 */
function killGroup(child: ChildProcess): void {
  const pgid = child.pid
  if (pgid === undefined || !signalGroup(pgid)) return
  let rounds = 0
  const again = setInterval(() => {
    if (!signalGroup(pgid) || ++rounds >= KILL_ROUNDS) clearInterval(again)
  }, KILL_INTERVAL_MS)
  again.unref()
}

/**
 * Runs `/bin/sh -c command` in its own process group and answers when it exits. A timeout
 * kills the whole group; background children that keep the pipes open are left running
 * and stop being read after a short grace. Aborting `signal` kills the group too.
 */
export async function runCommand(
  req: ExecRequest,
  env: Readonly<Record<string, string>>,
  signal?: AbortSignal,
): Promise<ExecResult> {
  const started = performance.now()
  const cwd = resolvePath(req.cwd ?? '.')
  const [file, args] = inWorkload('/bin/sh', ['-c', req.command])
  const child = spawn(file, args, {
    cwd,
    env: req.env ? { ...env, ...req.env } : env,
    detached: true,
    stdio: [req.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  })

  const stdout = new Capture()
  const stderr = new Capture()
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk))
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk))
  if (child.stdin && req.stdin !== undefined) {
    // A command that does not read its stdin closes the pipe early: that is not an error.
    child.stdin.on('error', () => {})
    child.stdin.end(req.stdin)
  }

  let timedOut = false
  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | Error>(
    (resolve) => {
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
      let graceTimer: NodeJS.Timeout | undefined
      const timer =
        req.timeout_ms === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true
              killGroup(child)
            }, req.timeout_ms)
      const onAbort = () => killGroup(child)
      signal?.addEventListener('abort', onAbort, { once: true })
      const finish = (result: { code: number | null; signal: NodeJS.Signals | null } | Error) => {
        clearTimeout(timer)
        clearTimeout(graceTimer)
        signal?.removeEventListener('abort', onAbort)
        resolve(result)
      }
      child.once('error', (err) => finish(err))
      child.once('exit', (code, sig) => {
        exit = { code, signal: sig }
        // The pipes usually close right after; if a background child holds them, stop waiting.
        graceTimer = setTimeout(() => {
          child.stdout?.destroy()
          child.stderr?.destroy()
          if (exit) finish(exit)
        }, PIPE_GRACE_MS)
      })
      child.once('close', (code, sig) => finish(exit ?? { code, signal: sig }))
    },
  )

  if (outcome instanceof Error) {
    const code = errnoCode(outcome)
    if (code === 'ENOENT' || code === 'ENOTDIR') throw await cwdError(cwd)
    // The instance is at its process or memory limit: the user's doing, not a server fault.
    if (code === 'EAGAIN' || code === 'ENOMEM') {
      throw new AppError(
        'instance_resources_exhausted',
        'The instance is at its process or memory limit; the command could not start. Try again when it has settled.',
      )
    }
    throw outcome
  }
  const exitCode = timedOut ? null : (outcome.code ?? signalExitCode(outcome.signal))
  const truncated = stdout.truncated || stderr.truncated
  return {
    stdout: stdout.text(),
    stderr: stderr.text(),
    exit_code: exitCode,
    timed_out: timedOut,
    duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
    ...(truncated ? { truncated: true } : {}),
  }
}

/** Shells report a death by signal N as 128 + N; do the same. */
function signalExitCode(sig: NodeJS.Signals | null): number | null {
  if (sig === null) return null
  const num = constants.signals[sig]
  return num === undefined ? null : 128 + num
}

/** Spawning failed with ENOENT: say whether the working folder is missing or not a folder. */
async function cwdError(cwd: string) {
  try {
    const info = await stat(cwd)
    if (!info.isDirectory()) return errors.conflict(`${cwd} is not a folder.`, 'not_a_directory')
    return errors.internal()
  } catch (err) {
    return fsError(err, cwd)
  }
}
