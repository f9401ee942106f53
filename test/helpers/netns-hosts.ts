import { type ChildProcess, execFile, execFileSync, type SpawnOptions, spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'

const execFileP = promisify(execFile)

/**
 * "Hosts" on this one machine: network namespaces joined by a bridge, each with its own address,
 * so a test can run a real process on each and cut and restore each one's link. Needs root, `ip`
 * (iproute2) and `nsenter` (util-linux).
 *
 * Names carry a 4-hex id: bridge `cpbr<id>`, host-side veths `cpv<id><i>`, namespaces
 * `cph-<id>-<i>`. The owning process's pid is written to `/run/clawport-test-hosts/<id>` before
 * anything is created, so leftovers of a crashed run are told apart from a live run's hosts.
 */
const STATE_DIR = '/run/clawport-test-hosts'
const BRIDGE = /^cpbr([0-9a-f]{4})$/
const VETH = /^cpv([0-9a-f]{4})\d+$/
const NETNS = /^cph-([0-9a-f]{4})-\d+$/
/** Third octet of the 10.231.X.0/24 subnets handed out; 10.231.0.0/16 is what PostgreSQL lets in. */
const SUBNETS = { first: 1, last: 63 }
/** Grace between SIGTERM and SIGKILL for spawned process groups at cleanup. */
const KILL_GRACE_MS = 1_000

export interface NetnsHost {
  /** The namespace's name (`ip netns` name; its file is /run/netns/<name>). */
  name: string
  /** Its address on the bridge, 10.231.X.(10+i). */
  address: string
  /** Takes the host's link down: nothing passes either way until `restore()`. */
  cut: () => Promise<void>
  /** Brings the link back up. */
  restore: () => Promise<void>
  /**
   * Starts a process in this host's network namespace only (mounts, cgroups and pids stay the
   * machine's), detached in its own process group, which `cleanup()` kills. nsenter execs the
   * command, so the child's pid is the command's.
   */
  spawn: (cmd: string, args?: string[], opts?: SpawnOptions) => ChildProcess
  /** Runs a command to its end in this host's network namespace: exit code and output. */
  exec: (cmd: string, args?: string[], opts?: ExecOptions) => Promise<ExecResult>
}

export interface ExecOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
}

export interface ExecResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface NetnsHosts {
  /** The machine's own address on the bridge, 10.231.X.1: what the hosts reach this side at. */
  bridgeAddress: string
  /** The bridge's interface name. */
  bridge: string
  hosts: NetnsHost[]
  /** Kills spawned process groups, deletes the namespaces, veths and the bridge. Idempotent. */
  cleanup: () => Promise<void>
}

/** Why hosts cannot be made here (not root, a missing tool), or '' when they can. */
export function netnsHostsUnavailable(): string {
  if (process.getuid?.() !== 0) return 'network namespace hosts need root'
  for (const [tool, pkg] of [
    ['ip', 'iproute2'],
    ['nsenter', 'util-linux'],
  ] as const) {
    if (!onPath(tool))
      return `network namespace hosts need \`${tool}\` (Debian package ${pkg}): not found on PATH`
  }
  return ''
}

/** Creates a bridge and `n` namespaces on it, each a "host" with its own address. */
export async function createHosts(n: number, opts: { subnet?: number } = {}): Promise<NetnsHosts> {
  const unavailable = netnsHostsUnavailable()
  if (unavailable) throw new Error(unavailable)
  await cleanupStaleHosts()
  const id = claimId()
  const bridge = `cpbr${id}`
  const names = Array.from({ length: n }, (_, i) => `cph-${id}-${i}`)
  const veths = names.map((_, i) => `cpv${id}${i}`)
  const children = new Set<ChildProcess>()
  let done = false

  const cleanupSync = () => {
    if (done) return
    done = true
    for (const child of children) killGroup(child, 'SIGKILL')
    removeResources(id, names, veths, bridge)
  }
  process.on('exit', cleanupSync)
  const cleanup = async () => {
    if (done) return
    await Promise.all([...children].map(stopGroup))
    cleanupSync()
    process.off('exit', cleanupSync)
  }

  try {
    await ip('link', 'add', bridge, 'type', 'bridge', 'forward_delay', '0')
    const x = await claimSubnet(bridge, opts.subnet)
    await ip('link', 'set', bridge, 'up')
    const hosts = names.map((name, i): NetnsHost => {
      const address = `10.231.${x}.${10 + i}`
      const veth = veths[i] as string
      const nsArgs = (cmd: string, args: string[]) => [`--net=/run/netns/${name}`, '--', cmd, ...args]
      return {
        name,
        address,
        cut: async () => {
          await ip('link', 'set', veth, 'down')
        },
        restore: async () => {
          await ip('link', 'set', veth, 'up')
        },
        spawn: (cmd, args = [], spawnOpts = {}) => {
          const child = spawn('nsenter', nsArgs(cmd, args), { ...spawnOpts, detached: true })
          children.add(child)
          child.once('exit', () => children.delete(child))
          return child
        },
        exec: (cmd, args = [], execOpts = {}) =>
          new Promise((resolve) => {
            execFile(
              'nsenter',
              nsArgs(cmd, args),
              { cwd: execOpts.cwd, env: execOpts.env, timeout: execOpts.timeoutMs, killSignal: 'SIGKILL' },
              (err, stdout, stderr) => {
                const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
                resolve({ code, stdout, stderr })
              },
            )
          }),
      }
    })
    for (const [i, name] of names.entries()) {
      const peer = `cpn${id}${i}`
      await ip('netns', 'add', name)
      await ip('link', 'add', veths[i] as string, 'type', 'veth', 'peer', 'name', peer, 'netns', name)
      await ip('link', 'set', veths[i] as string, 'master', bridge, 'up')
      await ip('-n', name, 'link', 'set', peer, 'name', 'eth0')
      await ip('-n', name, 'addr', 'add', `${hosts[i]?.address}/24`, 'dev', 'eth0')
      await ip('-n', name, 'link', 'set', 'eth0', 'up')
      await ip('-n', name, 'link', 'set', 'lo', 'up')
      await ip('-n', name, 'route', 'add', 'default', 'via', `10.231.${x}.1`)
    }
    return { bridgeAddress: `10.231.${x}.1`, bridge, hosts, cleanup }
  } catch (err) {
    await cleanup()
    throw err
  }
}

/**
 * Removes what earlier runs left behind: every bridge, veth and namespace with this file's name
 * prefixes whose owning process is gone (or never recorded), with the processes still in them.
 */
export async function cleanupStaleHosts(): Promise<void> {
  const links = (JSON.parse((await ip('-j', 'link', 'show')) || '[]') as { ifname: string }[]).map(
    (l) => l.ifname,
  )
  const netns = (JSON.parse((await ip('-j', 'netns', 'list')) || '[]') as { name: string }[]).map(
    (l) => l.name,
  )
  const ids = new Set<string>()
  for (const name of links) {
    const m = BRIDGE.exec(name) ?? VETH.exec(name)
    if (m) ids.add(m[1] as string)
  }
  for (const name of netns) {
    const m = NETNS.exec(name)
    if (m) ids.add(m[1] as string)
  }
  if (fs.existsSync(STATE_DIR)) for (const f of fs.readdirSync(STATE_DIR)) ids.add(f)
  for (const id of ids) {
    if (ownerAlive(id)) continue
    removeResources(
      id,
      netns.filter((ns) => NETNS.exec(ns)?.[1] === id),
      links.filter((l) => VETH.exec(l)?.[1] === id),
      `cpbr${id}`,
    )
  }
}

/** Picks an unused id and records this process as its owner, before anything is named after it. */
function claimId(): string {
  fs.mkdirSync(STATE_DIR, { recursive: true })
  for (;;) {
    const id = crypto.randomBytes(2).toString('hex')
    try {
      fs.writeFileSync(path.join(STATE_DIR, id), `${process.pid}\n`, { flag: 'wx' })
      return id
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
  }
}

function ownerAlive(id: string): boolean {
  let pid: number
  try {
    pid = Number(fs.readFileSync(path.join(STATE_DIR, id), 'utf8'))
  } catch {
    return false
  }
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Gives the bridge 10.231.X.1/24 for an X no other interface has. Two runs may pick the same X
 * at once: each checks after adding that it is alone, and otherwise both step back and pick again.
 */
async function claimSubnet(bridge: string, fixed?: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const used = new Set(
      [...(await ip('-4', '-o', 'addr', 'show')).matchAll(/inet 10\.231\.(\d+)\./g)].map((m) => Number(m[1])),
    )
    const free: number[] = []
    for (let x = SUBNETS.first; x <= SUBNETS.last; x++) if (!used.has(x)) free.push(x)
    if (fixed !== undefined && used.has(fixed))
      throw new Error(`10.231.${fixed}.0/24 is in use on this machine`)
    const x = fixed ?? free[crypto.randomInt(free.length || 1)]
    if (x === undefined)
      throw new Error(
        `no free 10.231.X.0/24 subnet (X in ${SUBNETS.first}..${SUBNETS.last}) for network namespace hosts`,
      )
    await ip('addr', 'add', `10.231.${x}.1/24`, 'dev', bridge)
    const holders = (await ip('-4', '-o', 'addr', 'show', 'to', `10.231.${x}.0/24`)).trim().split('\n')
    if (holders.length === 1) return x
    await ip('addr', 'del', `10.231.${x}.1/24`, 'dev', bridge)
    await new Promise((r) => setTimeout(r, crypto.randomInt(5, 50)))
  }
  throw new Error('could not claim a 10.231.X.0/24 subnet for network namespace hosts')
}

/** Kills what still runs in the namespaces, deletes them, the veths and the bridge, then the record. */
function removeResources(id: string, names: string[], veths: string[], bridge: string): void {
  for (const name of names) {
    for (const pid of quietIp('netns', 'pids', name).split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
    quietIp('netns', 'del', name)
  }
  // A namespace a process still holds outlives its name, and its veth with it: delete them here.
  for (const veth of veths) quietIp('link', 'del', veth)
  quietIp('link', 'del', bridge)
  fs.rmSync(path.join(STATE_DIR, id), { force: true })
}

/** SIGTERM to the child's process group, SIGKILL after a grace. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    killGroup(child, 'SIGKILL')
    return
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  killGroup(child, 'SIGTERM')
  await Promise.race([exited, new Promise((r) => setTimeout(r, KILL_GRACE_MS))])
  killGroup(child, 'SIGKILL')
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // The whole group is gone.
  }
}

async function ip(...args: string[]): Promise<string> {
  try {
    return (await execFileP('ip', args)).stdout
  } catch (err) {
    const e = err as { stderr?: string; message: string }
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr || e.message).trim()}`)
  }
}

/** `ip` for teardown: what is already gone is not an error. */
function quietIp(...args: string[]): string {
  try {
    return execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString()
  } catch {
    return ''
  }
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(':')
    .some((dir) => dir && fs.existsSync(path.join(dir, tool)))
}
