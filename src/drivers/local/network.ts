import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import { procStartTime } from './launch.js'

/**
 * An instance's network: slirp4netns (user-mode networking, as the host's own sockets) attached
 * to the sandbox's network namespace, and an nftables ruleset the host applies inside that
 * namespace first. The sandbox has no capability there, so it cannot change either.
 */

/** slirp4netns's fixed addresses: the gateway (the host, never reachable) and its DNS forwarder. */
export const SLIRP_GATEWAY = '10.0.2.2'
export const SLIRP_DNS = '10.0.2.3'

/**
 * Destinations a public instance never reaches, whatever the host's routes: this host, private
 * and shared (CGNAT) ranges, link-local (cloud metadata), loopback, multicast and reserved.
 * Documentation ranges (TEST-NET) are left alone: some hosts' mirrors live there.
 */
export const BLOCKED_IPV4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/3',
]

/** The host's own IPv4 addresses and the subnets they sit in (live, read at each start). */
export function hostNetworks(): string[] {
  const out = new Set<string>()
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue
      out.add(`${a.address}/32`)
      if (a.cidr) out.add(networkOf(a.cidr))
    }
  }
  return [...out]
}

/** `192.168.1.7/24` -> `192.168.1.0/24`. */
function networkOf(cidr: string): string {
  const [ip, bits] = cidr.split('/') as [string, string]
  const n = Number(bits)
  const value = ip.split('.').reduce((acc, o) => (acc << 8) | Number(o), 0) >>> 0
  const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0
  const net = (value & mask) >>> 0
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 0xff).join('.')}/${n}`
}

/** The DNS server to anyone but the resolver, even when a listed name resolves to it. */
const dnsRefused = (dns: string) => `
    ip daddr ${dns} tcp dport 53 reject with tcp reset
    ip daddr ${dns} udp dport 53 reject with icmp type admin-prohibited`

/** The nftables set an allowlist's resolver adds the addresses of its answers to. */
export const ALLOWED_SET = { family: 'inet', table: 'clawport', set: 'allowed' } as const
/** Addresses one allowlist instance may collect (its resolver's answers): a bound on memory. */
const ALLOWED_SET_SIZE = 16_384

/**
 * The ruleset of a networked instance. Loopback and the DNS server pass (for `allowlist` only
 * its resolver's own queries: the sandbox asks that resolver, never the server behind it); the
 * host, its networks and every private or special range are refused (with an answer, so
 * programs fail at once); IPv6 has no route and is refused too. `allowlist` then passes only
 * the addresses its resolver has answered for a listed name, in every protocol.
 */
export function networkRuleset(
  mode: 'public' | 'allowlist',
  hostNets: string[],
  dns: string,
  resolverUid: number,
): string {
  const blocked = [...new Set([...BLOCKED_IPV4, ...hostNets])].join(', ')
  // Socket owners as the user namespace that owns the sandbox's network namespace sees them:
  // the sandbox is the one uid mapped there, every host account (the resolver's) the overflow uid.
  const who = mode === 'allowlist' ? ` meta skuid ${resolverUid}` : ''
  const allowed =
    mode === 'allowlist'
      ? `
  set ${ALLOWED_SET.set} {
    type ipv4_addr; size ${ALLOWED_SET_SIZE};
  }`
      : ''
  const tail =
    mode === 'allowlist'
      ? `
    ip daddr @${ALLOWED_SET.set} accept
    meta l4proto tcp reject with tcp reset
    reject with icmp type admin-prohibited`
      : ''
  return `table ${ALLOWED_SET.family} ${ALLOWED_SET.table} {
  set blocked {
    type ipv4_addr; flags interval; auto-merge;
    elements = { ${blocked} }
  }${allowed}
  chain output {
    type filter hook output priority 0; policy accept;
    oifname "lo" accept
    ip daddr ${dns} udp dport 53${who} accept
    ip daddr ${dns} tcp dport 53${who} accept${mode === 'allowlist' ? dnsRefused(dns) : ''}
    ip daddr @blocked meta l4proto tcp reject with tcp reset
    ip daddr @blocked reject with icmp type admin-prohibited
    meta nfproto ipv6 reject${tail}
  }
}
`
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Waits until bwrap has brought the sandbox's loopback up: configuring the namespace before
 * that races bwrap, and the sandbox never starts.
 */
export async function waitForLoopback(pid: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let text = ''
    try {
      text = readFileSync(`/proc/${pid}/net/fib_trie`, 'utf8')
    } catch {}
    if (text.includes('127.0.0.1')) return
    if (Date.now() > deadline) throw new Error('the sandbox network namespace did not come up')
    await sleep(1)
  }
}

/** Runs `cmd` with `input` on stdin; rejects with its stderr when it fails. */
function run(cmd: string, args: string[], input: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], timeout: timeoutMs })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString()
    })
    child.once('error', reject)
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} failed (${code}): ${stderr.trim()}`)),
    )
    child.stdin.end(input)
  })
}

/** Applies an nftables ruleset inside the network namespace of `pid` (as host root). */
export function applyRuleset(pid: number, ruleset: string): Promise<void> {
  return run('nsenter', [`--net=/proc/${pid}/ns/net`, 'nft', '-f', '-'], ruleset)
}

/** A running slirp4netns, recorded to be stopped (it also leaves when its sandbox ends). */
export interface SlirpProcess {
  pid: number
  start: string
}

/**
 * Starts slirp4netns for the namespace of `pid`, detached, and resolves once it has configured
 * the namespace's tap device. `exitFd` is the read end of a pipe whose write end the sandbox
 * holds: slirp leaves with it. It runs in a private mount namespace: its sandbox mode would
 * otherwise unmount the host's shared sub-mounts.
 */
export async function startSlirp(
  pid: number,
  exitFd: number,
  logFile: string,
  timeoutMs = 10_000,
): Promise<SlirpProcess> {
  const { makePipe } = await import('../../door/unix-socket.js')
  const [readyR, readyW] = makePipe()
  const log = openSync(logFile, 'w', 0o600)
  let child: ReturnType<typeof spawn>
  try {
    child = spawn(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'slirp4netns',
        '--configure',
        '--mtu=65520',
        '--disable-host-loopback',
        '--enable-sandbox',
        '--enable-seccomp',
        '--ready-fd=3',
        '--exit-fd=4',
        '--netns-type=path',
        `/proc/${pid}/ns/net`,
        'tap0',
      ],
      { detached: true, stdio: ['ignore', log, log, readyW, exitFd] },
    )
  } finally {
    closeSync(log)
    closeSync(readyW)
  }
  child.unref()
  child.on('error', () => {})
  try {
    // slirp writes to its ready descriptor once configured; it closes it (EOF) if it fails.
    const buf = Buffer.alloc(1)
    const read = fs.open(`/proc/self/fd/${readyR}`, 'r').then(async (fh) => {
      try {
        return (await fh.read(buf, 0, 1, null)).bytesRead
      } finally {
        await fh.close()
      }
    })
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<number>((r) => {
      timer = setTimeout(() => r(-1), timeoutMs)
    })
    const got = await Promise.race([read, late]).finally(() => clearTimeout(timer))
    if (got !== 1) {
      if (child.pid) process.kill(child.pid, 'SIGKILL')
      const tail = (await fs.readFile(logFile, 'utf8').catch(() => ''))
        .trim()
        .split('\n')
        .slice(-3)
        .join('; ')
      throw new Error(`slirp4netns did not configure the network${got === -1 ? ' in time' : ''}: ${tail}`)
    }
  } finally {
    closeSync(readyR)
  }
  const slirpPid = child.pid ?? 0
  return { pid: slirpPid, start: procStartTime(slirpPid) ?? '' }
}
