import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import { readTail } from './instance-files.js'

/** What the driver writes down at launch to find a sandbox again, even after a restart. */
export interface LaunchRecord {
  /** The outer bwrap (the monitor that reports the exit status). */
  pid: number
  pidStart: string
  /** The sandbox's pid-namespace init, as seen from the host. */
  childPid: number
  childStart: string
  startedAt: string
  hostUid: number | null
  /** The instance's network, when it has one: its mode, names and DNS server as started. */
  network?: 'public' | 'allowlist'
  allowedHosts?: string[]
  dns?: string
  /** Its network namespace (`net:[inode]`), to find what runs there on the host's behalf. */
  netns?: string
  /** Its slirp4netns and its keeper (which runs an allowlist's resolver). */
  slirpPid?: number
  slirpStart?: string
  keeperPid?: number
  keeperStart?: string
  resolverPid?: number
  resolverStart?: string
  /** Set by stop(), so inspect can tell a requested stop from a crash. */
  stopped?: boolean
}

/** Start time (clock ticks since boot) of a live pid, or null when it is gone or a zombie. */
export function procStartTime(pid: number): string | null {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // comm (field 2) may hold spaces and parentheses: parse after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
  if (rest[0] === 'Z' || rest[0] === 'X') return null
  return rest[19] ?? null
}

/** True when `pid` is alive and still the process that was recorded (not a reused pid). */
export function sameProcess(pid: number, start: string): boolean {
  return pid > 0 && procStartTime(pid) === start
}

/** Signals a recorded process, guarding against pid reuse; false when it is already gone. */
export function signalProcess(pid: number, start: string, signal: NodeJS.Signals): boolean {
  if (!sameProcess(pid, start)) return false
  try {
    process.kill(pid, signal)
    return true
  } catch {
    return false
  }
}

/** Host pids whose parent is `ppid`. */
export async function childrenOf(ppid: number): Promise<number[]> {
  const out: number[] = []
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const text = await fs.readFile(`/proc/${name}/stat`, 'utf8').catch(() => '')
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
    if (Number(rest[1]) === ppid) out.push(Number(name))
  }
  return out
}

/** The bwrap JSON status stream: child pid at start, exit code at the end. */
export function readStatus(file: string): { childPid?: number; exitCode?: number } {
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return {}
  }
  const out: { childPid?: number; exitCode?: number } = {}
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    try {
      const obj = JSON.parse(line) as Record<string, unknown>
      if (typeof obj['child-pid'] === 'number') out.childPid = obj['child-pid']
      if (typeof obj['exit-code'] === 'number') out.exitCode = obj['exit-code']
    } catch {
      // A line still being written: the next poll reads it whole.
    }
  }
  return out
}

export interface SpawnSandboxOptions {
  file: string
  args: string[]
  seccompFile: string
  statusFile: string
  /** The sandbox's stdout and stderr, opened by `openSandboxLog` (closed here once handed over). */
  logFd: number
  logFile: string
  /**
   * Descriptors handed in as fds 6, 7 and 8 (the clawlet's socket, the network's block and sync
   * pipes), each optional; closed here once handed over.
   */
  extraFds?: Array<number | undefined>
  /** bwrap's own arguments, NUL-separated, handed over as fd 5 (`--args 5`). */
  argsFile: string
  /** Child fd numbers for the seccomp program and the status stream (they follow stdio). */
  seccompFd: 3
  statusFd: 4
  hostUid: number | null
  timeoutMs?: number
}

/**
 * Spawns a sandbox detached from this process (own session, stdio to a log file, unref'd) so
 * it outlives the control plane, and resolves once bwrap reports the sandbox's child pid.
 */
export async function spawnSandbox(o: SpawnSandboxOptions): Promise<LaunchRecord> {
  const log = o.logFd
  const status = openSync(o.statusFile, 'w', 0o600)
  // A fresh fd per spawn: bwrap reads the program to its end.
  const seccomp = openSync(o.seccompFile, 'r')
  const argsFd = openSync(o.argsFile, 'r')
  let child: ReturnType<typeof spawn>
  try {
    child = spawn(o.file, o.args, {
      detached: true,
      stdio: ['ignore', log, log, seccomp, status, argsFd, ...(o.extraFds ?? []).map((fd) => fd ?? 'ignore')],
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
    })
  } finally {
    closeSync(log)
    closeSync(status)
    closeSync(seccomp)
    closeSync(argsFd)
    for (const fd of o.extraFds ?? []) if (fd !== undefined) closeSync(fd)
  }
  let exited: number | null | undefined
  let spawnError: Error | undefined
  child.on('exit', (code, signal) => {
    exited = code ?? (signal ? 128 : -1)
  })
  child.on('error', (err) => {
    spawnError = err
  })
  child.unref()
  const pid = child.pid
  const deadline = Date.now() + (o.timeoutMs ?? 10_000)
  for (;;) {
    if (spawnError) throw spawnError
    const st = readStatus(o.statusFile)
    if (pid && st.childPid) {
      const pidStart = procStartTime(pid)
      const childStart = procStartTime(st.childPid)
      return {
        pid,
        pidStart: pidStart ?? '',
        childPid: st.childPid,
        childStart: childStart ?? '',
        startedAt: new Date().toISOString(),
        hostUid: o.hostUid,
      }
    }
    if (exited !== undefined || Date.now() > deadline) {
      // Read before the kill: what the launcher was doing is the cause of a timeout.
      const stuck = exited === undefined && pid ? processState(pid) : null
      if (exited === undefined && pid) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
      }
      const tail = readTail(o.logFile, 4096).trim().split('\n').slice(-5).join('\n')
      const log = tail ? `its log ends: ${tail}` : 'it wrote nothing to its log'
      const err = new Error(
        exited === undefined
          ? `sandbox did not start within ${o.timeoutMs ?? 10_000} ms (${stuck ?? 'its launcher was gone'}); ${log}`
          : `sandbox failed to start (exit ${exited}); ${log}`,
      )
      throw Object.assign(err, { code: exited === undefined ? 'ESANDBOXTIMEOUT' : 'ESANDBOXEXIT' })
    }
    await new Promise((r) => setTimeout(r, 1))
  }
}

const STATES: Record<string, string> = {
  R: 'running',
  S: 'sleeping',
  D: 'blocked on I/O',
  T: 'stopped',
  Z: 'a zombie',
}

/** What a process is doing, from /proc: `bwrap (pid 12) was sleeping in pipe_read`; null when gone. */
function processState(pid: number): string | null {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
  const code = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?'
  let wchan = ''
  try {
    wchan = readFileSync(`/proc/${pid}/wchan`, 'utf8').trim()
  } catch {}
  const where = wchan && wchan !== '0' ? ` in ${wchan}` : ''
  return `${comm} (pid ${pid}) was still ${STATES[code] ?? `in state ${code}`}${where}`
}
