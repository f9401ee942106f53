import { spawn } from 'node:child_process'
import { closeSync, constants, openSync, readFileSync, readlinkSync } from 'node:fs'
import fs from 'node:fs/promises'
import { readTail } from './instance-files.js'
import { childrenOf, procStartTime } from './launch.js'
import { ALLOWED_SET } from './network.js'

/**
 * The keeper of a networked sandbox: a root shell in the sandbox's network namespace (and a
 * private mount namespace) that holds the read end of the sandbox's sync pipe. It leaves, and
 * takes its process group along, when the sandbox ends (the pipe's last writer closes), so
 * nothing it started outlives the sandbox. For `allowlist` it runs the sandbox's resolver,
 * dnsmasq, and leaves when that dies too. Its descriptor of the pipe is also what a restarted
 * slirp4netns is tied to.
 */
const KEEPER_SCRIPT = `if [ $# -gt 0 ]; then "$@" 3<&- & fi
cat <&3 >/dev/null 3<&- &
wait -n
kill -KILL 0`

/** Where the resolver listens, inside the sandbox's namespace. */
export const RESOLVER_ADDRESS = '127.0.0.1'

/** The unprivileged account dnsmasq drops to: Debian's own, else nobody. */
function resolverUser(): string {
  try {
    if (/^dnsmasq:/m.test(readFileSync('/etc/passwd', 'utf8'))) return 'dnsmasq'
  } catch {}
  return 'nobody'
}

/**
 * dnsmasq's command line for an allowlist: no configuration file, hosts file or host resolver
 * of its own; every name answers NXDOMAIN but the listed ones, which go to `upstream`, and the
 * IPv4 addresses of their answers join the namespace's allowed set. A plain name is exact (its
 * subdomains answer NXDOMAIN, unless a listed wildcard covers them); `*.example.com` is every
 * name below example.com. A bounded cache; root only to bind, then dnsmasq keeps only
 * CAP_NET_ADMIN (for the set).
 */
export function resolverCommand(hosts: string[], upstream: string): string[] {
  const set = `4#${ALLOWED_SET.family}#${ALLOWED_SET.table}#${ALLOWED_SET.set}`
  const wildcards = hosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(2))
  const args = [
    'dnsmasq',
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--pid-file=',
    `--listen-address=${RESOLVER_ADDRESS}`,
    '--bind-interfaces',
    '--port=53',
    `--user=${resolverUser()}`,
    '--group=nogroup',
    '--cache-size=1000',
    '--dns-forward-max=64',
    '--max-cache-ttl=600',
    '--filter-AAAA',
    '--domain-needed',
    '--bogus-priv',
    '--log-facility=-',
    '--address=/#/',
  ]
  for (const host of hosts) {
    // A set's pattern takes no wildcard: the domain's own covers its subdomains.
    args.push(`--server=/${host}/${upstream}`, `--nftset=/${host.replace(/^\*\./, '')}/${set}`)
    const covered = wildcards.some((w) => host === w || host.endsWith(`.${w}`))
    if (!host.startsWith('*.') && !covered) args.push(`--address=/*.${host}/`)
  }
  return args
}

/** A running keeper (and its resolver), recorded to be found again after a restart. */
export interface KeeperProcess {
  pid: number
  start: string
  resolverPid?: number
  resolverStart?: string
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Whether something listens on UDP 127.0.0.1:53 in the network namespace of `pid`. */
function resolverListening(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/net/udp`, 'utf8').includes(' 0100007F:0035 ')
  } catch {
    return false
  }
}

/**
 * Starts the keeper of the sandbox whose namespace init is `pid`; `exitFd` is a read end of
 * its sync pipe. With `resolver` (from `resolverCommand`) it resolves once dnsmasq listens.
 */
export async function startKeeper(
  pid: number,
  exitFd: number,
  resolver: string[] | null,
  logFile: string,
  timeoutMs = 10_000,
): Promise<KeeperProcess> {
  const log = openSync(logFile, 'a', 0o600)
  let child: ReturnType<typeof spawn>
  try {
    child = spawn(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'nsenter',
        `--net=/proc/${pid}/ns/net`,
        'bash',
        '-c',
        KEEPER_SCRIPT,
        'keeper',
        ...(resolver ?? []),
      ],
      {
        detached: true,
        stdio: ['ignore', log, log, exitFd],
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      },
    )
  } finally {
    closeSync(log)
  }
  child.unref()
  child.on('error', () => {})
  const keeperPid = child.pid ?? 0
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const alive = procStartTime(keeperPid) !== null
    if (alive && (!resolver || resolverListening(pid))) break
    if (!alive || Date.now() > deadline) {
      if (alive) process.kill(-keeperPid, 'SIGKILL')
      const tail = readTail(logFile, 2048).trim().split('\n').slice(-3).join('; ')
      throw new Error(`the network keeper did not start${alive ? ' in time' : ''}: ${tail}`)
    }
    await sleep(2)
  }
  const keeper = { pid: keeperPid, start: procStartTime(keeperPid) ?? '' }
  for (const pid of resolver ? await childrenOf(keeperPid) : []) {
    const comm = await fs.readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')
    if (comm.trim() === 'dnsmasq')
      return { ...keeper, resolverPid: pid, resolverStart: procStartTime(pid) ?? '' }
  }
  return keeper
}

/**
 * A new (blocking) read end of the pipe that `pid` holds as `fd` (a sandbox's sync pipe, held
 * by its keeper or slirp4netns), to tie a replacement to the same sandbox. Opening a pipe to
 * read waits for a writer: a read-write end opened first (which never waits) is that writer
 * for the moment, then closed.
 */
export function reopenPipe(pid: number, fd: number): number {
  const file = `/proc/${pid}/fd/${fd}`
  const rw = openSync(file, constants.O_RDWR)
  try {
    return openSync(file, constants.O_RDONLY)
  } finally {
    closeSync(rw)
  }
}

/** The network namespace of `pid` (`net:[inode]`), or null when it is gone. */
export function netnsOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`)
  } catch {
    return null
  }
}
