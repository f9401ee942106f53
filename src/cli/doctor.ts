import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { createDriver } from '../drivers/index.js'
import { createLogger } from '../log.js'
import { COMMON_OPTIONS, configFrom, parseFlags } from './args.js'
import { headroomChecks } from './doctor-headroom.js'
import { openclawChecks } from './doctor-openclaw.js'
import { runnerChecks } from './doctor-runner.js'

type Level = 'ok' | 'warn' | 'fail'
interface Check {
  level: Level
  what: string
  fix?: string
}

function version(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 })
      .trim()
      .split('\n')[0]
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string }
    if (e.code === 'ENOENT') return undefined
    return (e.stdout || e.stderr || '').trim().split('\n')[0] || 'present'
  }
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(`${d}/${cmd}`))
}

/** `clawport doctor`: what this host has for sandboxes, and how to fix what it lacks. */
export async function doctor(argv: string[]): Promise<number> {
  if (argv.includes('--orphans')) return (await import('./orphans.js')).orphans(argv)
  const { values } = parseFlags(argv, {
    ...COMMON_OPTIONS,
    runner: { type: 'boolean' },
    server: { type: 'string' },
    token: { type: 'string' },
  })
  // A runner host seals nothing (no CLAWPORT_SECRET_KEY there).
  const config = configFrom(values, { sealsSecrets: !values.runner })
  const checks: Check[] = []
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
  checks.push(
    major > 24 || (major === 24 && minor >= 16)
      ? { level: 'ok', what: `Node ${process.version}` }
      : {
          level: 'fail',
          what: `Node ${process.version} is too old`,
          fix: 'run through npm (npx --no-install clawport ...) so the pinned Node 24 is used',
        },
  )
  const bwrap = version('bwrap', ['--version'])
  checks.push(
    bwrap
      ? { level: 'ok', what: bwrap }
      : { level: 'fail', what: 'bubblewrap is missing', fix: 'apt-get install -y bubblewrap' },
  )
  const root = process.getuid?.() === 0
  checks.push(
    root
      ? { level: 'ok', what: 'running as root: one unprivileged host uid per instance, resource limits' }
      : {
          level: 'warn',
          what: 'not root: instances share your uid and run without cgroup limits or disk quotas',
          fix: 'run the server as root for full isolation',
        },
  )
  if (root && !onPath('setpriv'))
    checks.push({ level: 'fail', what: 'setpriv is missing', fix: 'apt-get install -y util-linux' })
  if (bwrap) {
    try {
      const driver = await createDriver(config, createLogger('silent'))
      const caps = await driver.init()
      checks.push({
        level: 'ok',
        what: 'a test sandbox started (user, pid, ipc, uts and net namespaces; no capabilities; seccomp)',
      })
      checks.push(
        caps.cgroup === 'none'
          ? {
              level: 'warn',
              what: 'no usable cgroups: memory, CPU and process limits are off',
              fix: 'mount cgroup v2 (or v1 memory, cpu, pids) and run as root',
            }
          : { level: 'ok', what: `cgroup ${caps.cgroup}: memory, CPU and process limits` },
      )
      checks.push(
        caps.diskQuota
          ? { level: 'ok', what: 'disk quotas: a loop-mounted ext4 image per instance' }
          : {
              level: 'warn',
              what: 'no disk quotas',
              fix: 'run as root with loop devices and mkfs.ext4 (e2fsprogs), or set CLAWPORT_DISK_QUOTA=off to silence',
            },
      )
      for (const note of caps.notes) checks.push({ level: 'warn', what: note })
    } catch (err) {
      checks.push({
        level: 'fail',
        what: `sandboxes cannot start: ${(err as Error).message}`,
        fix: 'enable unprivileged user namespaces: sysctl -w user.max_user_namespaces=15000 (and kernel.unprivileged_userns_clone=1 where it exists)',
      })
    }
  }
  checks.push(
    onPath('Xtigervnc') && onPath('openbox')
      ? { level: 'ok', what: 'desktop: Xtigervnc and openbox' }
      : {
          level: 'warn',
          what: 'desktop packages missing (needed for the instance desktop)',
          fix: 'apt-get install -y tigervnc-standalone-server openbox',
        },
  )
  if (values.runner)
    checks.push(...(await runnerChecks(config, values.token ?? config.fleet.runnerToken, values.server)))
  checks.push(...openclawChecks(config))
  checks.push(...headroomChecks(config))
  try {
    fs.mkdirSync(config.dataDir, { recursive: true })
    fs.accessSync(config.dataDir, fs.constants.W_OK)
    checks.push({ level: 'ok', what: `data folder ${config.dataDir} is writable` })
  } catch {
    checks.push({
      level: 'fail',
      what: `data folder ${config.dataDir} is not writable`,
      fix: 'pass --data-dir to a folder you can write',
    })
  }

  const mark: Record<Level, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' }
  for (const c of checks) {
    process.stdout.write(`${mark[c.level]}  ${c.what}\n`)
    if (c.fix && c.level !== 'ok') process.stdout.write(`      fix: ${c.fix}\n`)
  }
  const failed = checks.filter((c) => c.level === 'fail').length
  process.stdout.write(
    failed
      ? `\n${failed} problem(s) stop ${values.runner ? 'this runner' : 'sandboxes'} from running here.\n`
      : `\nthis host can run Clawport instances${values.runner ? ' as a runner' : ''}.\n`,
  )
  return failed ? 1 : 0
}
