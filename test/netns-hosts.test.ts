import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  cleanupStaleHosts,
  createHosts,
  type NetnsHost,
  type NetnsHosts,
  netnsHostsUnavailable,
} from './helpers/netns-hosts.js'
import { havePostgres, TEST_DATABASE_URL } from './helpers/postgres.js'

const REPO = path.resolve(import.meta.dirname, '..')
const NODE = process.execPath
const ECHO_SERVER = `const s = require('node:net').createServer((c) => c.pipe(c)).listen(0, () => console.log(s.address().port))`
/** Connects to argv host:port, sends a line and prints the echo; exits 1 on error or timeout. */
const CLIENT = `const [host, port, ms] = process.argv.slice(1)
const c = require('node:net').connect({ host, port: Number(port), timeout: Number(ms) }, () => c.write('ping'))
c.on('data', (d) => { process.stdout.write(d); c.destroy() })
c.on('timeout', () => { console.error('timeout'); process.exit(1) })
c.on('error', (e) => { console.error(e.message); process.exit(1) })`
const PG_CLIENT = `const c = new (require('pg').Client)({ connectionString: process.argv[1], connectionTimeoutMillis: 5000 })
c.connect().then(() => c.query('SELECT host(inet_client_addr()) AS a'))
  .then((r) => { console.log(r.rows[0].a); return c.end() })
  .catch((e) => { console.error(e.message); process.exit(1) })`

const unavailable = netnsHostsUnavailable()
if (unavailable) process.stderr.write(`\n  skipped: ${unavailable}\n`)

/** Sends 'ping' to host:port from this side; resolves the echo, rejects on error or timeout. */
function ping(host: string, port: number, timeoutMs = 1_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host, port, timeout: timeoutMs }, () => c.write('ping'))
    c.on('data', (d) => {
      resolve(d.toString())
      c.destroy()
    })
    c.on('timeout', () => {
      reject(new Error('timeout'))
      c.destroy()
    })
    c.on('error', reject)
  })
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(out.split('\n')[0] as string)
    })
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing`)))
  })
}

const links = () => execFileSync('ip', ['-o', 'link', 'show']).toString()
const netnsList = () => execFileSync('ip', ['netns', 'list']).toString()

describe.skipIf(Boolean(unavailable))('network namespace hosts', () => {
  let hosts: NetnsHosts
  let h0: NetnsHost
  let h1: NetnsHost
  let bridgeServer: net.Server
  let bridgePort = 0
  let echo: ChildProcess
  let echoPort = 0

  beforeAll(async () => {
    hosts = await createHosts(2)
    ;[h0, h1] = hosts.hosts as [NetnsHost, NetnsHost]
    bridgeServer = net.createServer((c) => c.pipe(c))
    await new Promise<void>((r) => bridgeServer.listen(0, hosts.bridgeAddress, r))
    bridgePort = (bridgeServer.address() as net.AddressInfo).port
    echo = h1.spawn(NODE, ['-e', ECHO_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] })
    echoPort = Number(await firstLine(echo))
  })
  afterAll(async () => {
    await hosts?.cleanup()
    bridgeServer?.close()
  })

  it('host 0 reaches the bridge side and the bridge side reaches a server in host 1', async () => {
    expect(h0.address).not.toBe(h1.address)
    const fromHost = await h0.exec(NODE, ['-e', CLIENT, hosts.bridgeAddress, String(bridgePort), '2000'])
    expect(fromHost).toMatchObject({ code: 0, stdout: 'ping' })
    expect(await ping(h1.address, echoPort)).toBe('ping')
  })

  it.skipIf(!havePostgres())('a namespace reaches PostgreSQL at the bridge address', async () => {
    const url = new URL(TEST_DATABASE_URL as string)
    url.hostname = hosts.bridgeAddress
    const r = await h0.exec(NODE, ['-e', PG_CLIENT, url.toString()], { cwd: REPO })
    expect(r.stderr).toBe('')
    expect(r.stdout.trim()).toBe(h0.address)
  })

  it('cut() stops traffic both ways and restore() brings it back', async () => {
    const out = () => h1.exec(NODE, ['-e', CLIENT, hosts.bridgeAddress, String(bridgePort), '1000'])
    await h1.cut()
    const [inbound, outbound] = await Promise.allSettled([ping(h1.address, echoPort), out()])
    expect(inbound.status).toBe('rejected')
    expect(outbound).toMatchObject({ status: 'fulfilled', value: { code: 1 } })
    // Host 0 keeps its link.
    expect(
      await h0.exec(NODE, ['-e', CLIENT, hosts.bridgeAddress, String(bridgePort), '2000']),
    ).toMatchObject({ code: 0 })
    await h1.restore()
    expect(await ping(h1.address, echoPort, 3_000)).toBe('ping')
    expect(await out()).toMatchObject({ code: 0, stdout: 'ping' })
  })

  it('a spawned process keeps the machine mounts and cgroups and starts a bubblewrap sandbox', async () => {
    const sandbox = h0.spawn('bwrap', ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', 'true'], {
      stdio: 'inherit',
    })
    const code = await new Promise((r) => sandbox.once('exit', r))
    expect(code).toBe(0)
    const r = await h0.exec('sh', ['-c', 'readlink /proc/self/ns/net /proc/self/ns/mnt; ls /sys/fs/cgroup'])
    const [netNs, mntNs, ...cgroups] = r.stdout.trim().split('\n')
    expect(netNs).not.toBe(fs.readlinkSync('/proc/self/ns/net'))
    expect(mntNs).toBe(fs.readlinkSync('/proc/self/ns/mnt'))
    expect(cgroups).toEqual(fs.readdirSync('/sys/fs/cgroup').sort())
  })

  it('cleanupStaleHosts() removes what a dead owner left, with its processes, and keeps live hosts', async () => {
    const id = crypto.randomBytes(2).toString('hex')
    const dead = spawnSync('true').pid
    fs.writeFileSync(`/run/clawport-test-hosts/${id}`, `${dead}\n`)
    execFileSync('ip', ['link', 'add', `cpbr${id}`, 'type', 'bridge'])
    execFileSync('ip', ['netns', 'add', `cph-${id}-0`])
    execFileSync('ip', [
      'link',
      'add',
      `cpv${id}0`,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      `cph-${id}-0`,
    ])
    const left = spawn('nsenter', [`--net=/run/netns/cph-${id}-0`, 'sleep', '60'], { stdio: 'ignore' })
    await new Promise((r) => left.once('spawn', r))
    const gone = new Promise((r) => left.once('exit', (_code, signal) => r(signal)))
    await cleanupStaleHosts()
    expect(await gone).toBe('SIGKILL')
    expect(links()).not.toMatch(new RegExp(`cpbr${id}|cpv${id}`))
    expect(netnsList()).not.toContain(`cph-${id}`)
    expect(fs.existsSync(`/run/clawport-test-hosts/${id}`)).toBe(false)
    expect(links()).toContain(hosts.bridge)
    expect(await ping(h1.address, echoPort)).toBe('ping')
  })

  it('cleanup() kills spawned processes and removes the namespaces and the bridge, and may run twice', async () => {
    const exited = new Promise((r) => echo.once('exit', r))
    await hosts.cleanup()
    await exited
    expect(() => process.kill(-(echo.pid as number), 0)).toThrow()
    const ns = netnsList()
    for (const h of hosts.hosts) expect(ns).not.toContain(h.name)
    expect(links()).not.toContain(hosts.bridge)
    expect(links()).not.toMatch(new RegExp(`cpv${hosts.bridge.slice(4)}`))
    await hosts.cleanup()
  })
})
