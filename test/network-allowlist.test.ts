import fs from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { InstanceSpec } from '../src/drivers/driver.js'
import type { LaunchRecord } from '../src/drivers/local/launch.js'
import { makeDriver, runIn } from './helpers/driver.js'
import { startInternet, type TestInternet } from './helpers/internet.js'
import { TEST_ENV } from './helpers/plans.js'
import { startServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

const isRoot = process.getuid?.() === 0
const haveTools = ['slirp4netns', 'nft', 'ip', 'dnsmasq'].every((t) =>
  ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].some((d) => fs.existsSync(`${d}/${t}`)),
)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** Waits until `cond` holds (a throw, say of a file not there yet, counts as not yet). */
const until = (what: string, cond: () => boolean, timeoutMs = 20_000) =>
  waitFor(
    what,
    () => {
      try {
        return cond()
      } catch {
        return false
      }
    },
    { timeoutMs },
  )

/** Host pids whose command is `name` (slirp4netns, dnsmasq). */
const pidsOf = (name: string) =>
  fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === name
      } catch {
        return false
      }
    })
    .map(Number)
const netnsOf = (pid: number) => {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/net`)
  } catch {
    return null
  }
}

describe.skipIf(!isRoot || !haveTools)('allowlist network (dnsmasq with an nftables set)', () => {
  let inet: TestInternet
  let env: Awaited<ReturnType<typeof makeDriver>>
  const hostMounts = () =>
    fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      // Instance disks (this test's and those of tests running beside it) come and go.
      .filter((l) => l && !/clawport-[^/ ]*\/instances\//.test(l))
      .map((l) => l.split(' ').slice(4, 5).join(' '))
      .sort()
  let mountsBefore: string[] = []

  beforeAll(async () => {
    inet = await startInternet('a')
    mountsBefore = hostMounts()
    env = await makeDriver({ driver: { networkDns: inet.ip } })
    await env.driver.init()
  }, 60_000)

  afterAll(async () => {
    await env?.cleanup()
    inet?.stop()
  })

  const spec = (name: string, network: InstanceSpec['network'], hosts: string[] = []): InstanceSpec => ({
    ...env.spec(name),
    network,
    allowedHosts: hosts,
  })
  const get = (url: string, tag: string) => `echo ${tag}:$(curl -s -m 4 ${url} || echo refused)`
  const resolve = (name: string) => `echo dns-${name}:$(getent hosts ${name} | cut -d' ' -f1 || true)`
  /** Changes only the host may make: each must fail from inside. */
  const tamper = [
    '/usr/sbin/ip route add 10.9.0.0/16 dev lo 2>/dev/null && echo route-changed',
    '/usr/sbin/ip route del default 2>/dev/null && echo route-deleted',
    '/usr/sbin/nft flush ruleset 2>/dev/null && echo rules-flushed',
    '/usr/sbin/nft add element inet clawport allowed { 203.0.113.4 } 2>/dev/null && echo set-changed',
  ]

  /** A query straight to the DNS server behind the resolver: not the sandbox's to ask. */
  const directDns = (server: string) => `python3 -c "
import socket
q = bytes.fromhex('123401000001000000000000') + b'\\x05other\\x04test\\x00\\x00\\x01\\x00\\x01'
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
try:
    s.sendto(q, ('${server}', 53)); s.recv(512); print('direct-dns-answered')
except OSError:
    print('direct-dns-refused')
"`

  it('resolves and reaches only its names, in every protocol', async () => {
    const { ip, ip2, ip3 } = inet
    const r = await runIn(
      env.driver,
      spec('allow', 'allowlist', ['pkg.test', '*.wild.test']),
      [
        // Before any name resolved to it, an address is out of reach, even the DNS server's.
        get(`http://${ip2}/hello.txt`, 'wild-before'),
        get(`http://${ip}/hello.txt`, 'dns-server-before'),
        directDns(ip),
        resolve('pkg.test'),
        resolve('sub.pkg.test'),
        resolve('a.wild.test'),
        resolve('wild.test'),
        resolve('other.test'),
        get('http://pkg.test/hello.txt', 'pkg'),
        get('http://a.wild.test/hello.txt', 'wild'),
        get(`http://${ip3}/hello.txt`, 'other-by-address'),
        // pkg.test has the DNS server's address, which is now open but for DNS.
        directDns(ip),
        ...tamper,
        'cat /etc/resolv.conf',
      ].join('; '),
      40_000,
    )
    expect(r.out).toContain('wild-before:refused')
    expect(r.out).toContain('dns-server-before:refused')
    expect(r.out).toContain(`dns-pkg.test:${ip}`)
    expect(r.out).toContain('dns-sub.pkg.test:\n')
    expect(r.out).toContain(`dns-a.wild.test:${ip2}`)
    expect(r.out).toContain('dns-wild.test:\n')
    expect(r.out).toContain('dns-other.test:\n')
    expect(r.out).toContain('pkg:hello from the internet')
    expect(r.out).toContain('wild:hello from the internet')
    expect(r.out).toContain('other-by-address:refused')
    // Before and after its address joined the allowed set.
    expect(r.out.match(/direct-dns-refused/g)).toHaveLength(2)
    for (const t of ['route-changed', 'route-deleted', 'rules-flushed', 'set-changed'])
      expect(r.out).not.toContain(t)
    expect(r.out).toContain('nameserver 127.0.0.1')
  }, 60_000)

  it('refuses route and rule changes with no network too', async () => {
    const r = await runIn(env.driver, spec('offt', 'off'), [...tamper, 'echo done'].join('; '))
    expect(r.out).toContain('done')
    for (const t of ['route-changed', 'route-deleted', 'rules-flushed', 'set-changed'])
      expect(r.out).not.toContain(t)
  })

  it('installs packages from the network: npm from a tarball URL, pip from an index', async () => {
    const r = await runIn(
      env.driver,
      spec('pkgs', 'allowlist', ['pkg.test']),
      [
        'mkdir -p /workspace/app && cd /workspace/app',
        'npm install --no-audit --no-fund --no-update-notifier http://pkg.test/files/tiny-pkg-1.0.0.tgz >/dev/null 2>&1 || echo npm-failed',
        `node -e "console.log('npm:' + require('tiny-pkg'))"`,
        'python3 -m pip install --user --break-system-packages --no-cache-dir --disable-pip-version-check --index-url http://pkg.test/simple/ --trusted-host pkg.test tinypkg >/dev/null 2>&1 || echo pip-failed',
        `cd / && python3 -c "import tinypkg; print('pip:' + tinypkg.VALUE)"`,
      ].join('; '),
      120_000,
    )
    expect(r.out).toContain('npm:tiny-pkg works')
    expect(r.out).toContain('pip:tinypkg works')
  }, 150_000)

  it('runs its resolver unprivileged and in its own mount namespace, and leaves nothing after stop', async () => {
    const a = spec('life', 'allowlist', ['pkg.test'])
    const rec = (await env.driver.launch(a, ['/bin/sleep', '300'])) as LaunchRecord
    const netns = netnsOf(rec.childPid)
    const resolvers = pidsOf('dnsmasq').filter((p) => netnsOf(p) === netns)
    expect(resolvers.length).toBeGreaterThan(0)
    for (const pid of resolvers) {
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
      const field = (name: string) => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(status)?.[1] ?? ''
      expect(field('Uid').split(/\s+/)).not.toContain('0')
      // CAP_NET_ADMIN (bit 12) alone: to add its answers to the set.
      expect(BigInt(`0x${field('CapEff')}`)).toBe(1n << 12n)
      expect(fs.readlinkSync(`/proc/${pid}/ns/mnt`)).not.toBe(fs.readlinkSync('/proc/self/ns/mnt'))
      expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('--conf-file=/dev/null')
    }
    expect(resolvers).toContain(rec.resolverPid)
    // A resolver whose keeper died is an orphan holding the namespace: stop ends it all the same.
    process.kill(rec.keeperPid as number, 'SIGKILL')
    await env.driver.stop(a.id, 100)
    await until(
      'the resolver and slirp4netns to end',
      () => pidsOf('dnsmasq').every((p) => netnsOf(p) !== netns) && !fs.existsSync(`/proc/${rec.slirpPid}`),
    )
    expect(hostMounts()).toEqual(mountsBefore)
  }, 30_000)

  it('restarts a dead slirp4netns or resolver of a running sandbox, and stops one that lost both', async () => {
    const a = spec('mend', 'allowlist', ['pkg.test'])
    const probe = `${env.driver.layout(a.id).workspace}/probe`
    const loop = `while :; do (curl -s -m 2 http://pkg.test/hello.txt || echo down) > /workspace/.p; mv /workspace/.p /workspace/probe; sleep 0.2; done`
    await env.driver.provision(a)
    const first = await env.driver.launch(a, ['/bin/sh', '-c', loop])
    const probed = (want: string) =>
      until(`the probe to say ${want}`, () => fs.readFileSync(probe, 'utf8').includes(want))
    const record = () => JSON.parse(fs.readFileSync(env.driver.layout(a.id).record, 'utf8')) as LaunchRecord
    await probed('hello')
    process.kill(first.slirpPid as number, 'SIGKILL')
    await probed('down')
    expect((await env.driver.inspect(a.id)).running).toBe(true)
    expect(record().slirpPid).not.toBe(first.slirpPid)
    await probed('hello')
    const netns = netnsOf(first.childPid)
    for (const p of pidsOf('dnsmasq').filter((p) => netnsOf(p) === netns)) process.kill(p, 'SIGKILL')
    await probed('down')
    expect((await env.driver.inspect(a.id)).running).toBe(true)
    expect(record().keeperPid).not.toBe(first.keeperPid)
    await probed('hello')
    expect(record().childPid).toBe(first.childPid)
    const now = record()
    process.kill(now.slirpPid as number, 'SIGKILL')
    process.kill(-(now.keeperPid as number), 'SIGKILL')
    await sleep(100)
    const state = await env.driver.inspect(a.id)
    expect(state).toMatchObject({ running: false })
    expect(fs.existsSync(`/proc/${first.childPid}`)).toBe(false)
  }, 90_000)

  it('keeps an adopted instance networked across a server restart, restarting what died meanwhile', async () => {
    const s = await startServer({ ...TEST_ENV, CLAWPORT_NETWORK_DNS: inet.ip })
    try {
      const key = await s.user('allow@example.com', 'allow')
      const inst = (await s.readyInstance(key)) as { id: string; network: string; allowed_hosts: string[] }
      expect(inst).toMatchObject({ network: 'allowlist', allowed_hosts: ['pkg.test'] })
      const probe = `${get('http://pkg.test/hello.txt', 'pkg')}; ${resolve('other.test')}`
      const before = (await s.exec(inst.id, probe, {}, key)).stdout
      expect(before).toContain('pkg:hello from the internet')
      expect(before).toContain('dns-other.test:\n')
      const file = `${s.dataDir}/instances/${inst.id}/state/sandbox.json`
      const rec = JSON.parse(fs.readFileSync(file, 'utf8')) as LaunchRecord
      await s.kill9()
      // Its slirp4netns dies while no server watches.
      process.kill(rec.slirpPid as number, 'SIGKILL')
      await s.start()
      await s.waitStatus(inst.id, 'ready', key)
      const after = (await s.exec(inst.id, probe, {}, key)).stdout
      expect(after).toContain('pkg:hello from the internet')
      expect(after).toContain('dns-other.test:\n')
      const now = JSON.parse(fs.readFileSync(file, 'utf8')) as LaunchRecord
      // The same sandbox, taken back, with a new slirp4netns and the same resolver.
      expect(now.childPid).toBe(rec.childPid)
      expect(now.slirpPid).not.toBe(rec.slirpPid)
      expect(now.keeperPid).toBe(rec.keeperPid)
      // Its resolver dies while the server runs: the server's next check restarts it.
      process.kill(now.resolverPid as number, 'SIGKILL')
      const mended = await waitFor(
        'a new keeper and resolver in the launch record',
        () => {
          const r = JSON.parse(fs.readFileSync(file, 'utf8')) as LaunchRecord
          return r.keeperPid !== now.keeperPid && r.resolverPid && r
        },
        { timeoutMs: 20_000 },
      )
      expect(mended.childPid).toBe(rec.childPid)
      expect((await s.exec(inst.id, probe, {}, key)).stdout).toContain('pkg:hello from the internet')
      expect((await s.api('DELETE', `/api/instances/${inst.id}`, { key })).status).toBeLessThan(300)
      await until(
        'slirp4netns and the resolver to end',
        () => !fs.existsSync(`/proc/${mended.slirpPid}`) && !fs.existsSync(`/proc/${mended.resolverPid}`),
      )
    } finally {
      await s.destroy()
    }
  }, 120_000)
})
