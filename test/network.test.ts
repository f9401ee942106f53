import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { InstanceSpec } from '../src/drivers/driver.js'
import { makeDriver, runIn } from './helpers/driver.js'
import { TEST_ENV } from './helpers/plans.js'
import { startServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

const isRoot = process.getuid?.() === 0
const haveTools = ['slirp4netns', 'nft', 'ip'].every((t) =>
  ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].some((d) => fs.existsSync(`${d}/${t}`)),
)

/**
 * "The internet" is a host this test makes: a network namespace behind a veth pair, at a
 * documentation address, serving HTTP. Nothing leaves this machine.
 */
/** Waits until `pid` is no slirp4netns any more (gone, a zombie, or its number taken by another). */
const slirpGone = (pid: number) =>
  waitFor(
    `slirp4netns ${pid} to end`,
    () => {
      try {
        return !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('slirp4netns')
      } catch {
        return true
      }
    },
    { timeoutMs: 10_000, intervalMs: 20 },
  )
/** Each test lane (vitest.config.ts) has its own addresses, so lanes side by side never meet. */
const LANE_FIRST = 8 * Number(process.env.CLAWPORT_TEST_LANE ?? 0)
const INET = `198.51.100.${LANE_FIRST + 2}`
const HOST_SIDE = `198.51.100.${LANE_FIRST + 1}`

describe.skipIf(!isRoot || !haveTools)('instance network (slirp4netns and an nftables policy)', () => {
  const ns = `cpinet${process.pid}`
  const veth = `cpv${process.pid % 100000}`
  let web: ChildProcess
  let hostService: net.Server
  let hostPort = 0
  let env: Awaited<ReturnType<typeof makeDriver>>
  let hostAddr = ''
  // The host's own mounts: slirp4netns's sandbox must not touch them.
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
    const ip = (...args: string[]) => execFileSync('ip', args)
    ip('netns', 'add', ns)
    ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}i`)
    ip('link', 'set', `${veth}i`, 'netns', ns)
    ip('addr', 'add', HOST_SIDE, 'peer', INET, 'dev', veth)
    ip('link', 'set', veth, 'up')
    ip('-n', ns, 'addr', 'add', INET, 'peer', HOST_SIDE, 'dev', `${veth}i`)
    ip('-n', ns, 'link', 'set', `${veth}i`, 'up')
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    web = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'python3',
        '-c',
        `import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"hello from the internet")
    def log_message(self, *a): pass
http.server.HTTPServer(("${INET}", 80), H).serve_forever()`,
      ],
      { stdio: 'ignore' },
    )
    // A service of the host's own, on every address: no instance may reach it.
    hostService = net.createServer((c) => c.end('host service\n'))
    await new Promise<void>((r) => hostService.listen(0, '0.0.0.0', r))
    hostPort = (hostService.address() as net.AddressInfo).port
    hostAddr =
      Object.values(os.networkInterfaces())
        .flat()
        .find((a) => a && a.family === 'IPv4' && !a.internal && a.address !== HOST_SIDE)?.address ?? HOST_SIDE
    mountsBefore = hostMounts()
    env = await makeDriver()
    await env.driver.init()
    for (let i = 0; i < 100; i++) {
      try {
        execFileSync('ip', [
          'netns',
          'exec',
          ns,
          'python3',
          '-c',
          `import socket; socket.create_connection(("${INET}", 80), 1)`,
        ])
        break
      } catch {
        await new Promise((r) => setTimeout(r, 50))
      }
    }
  }, 60_000)

  afterAll(async () => {
    await env?.cleanup()
    web?.kill('SIGKILL')
    hostService?.close()
    try {
      execFileSync('ip', ['link', 'del', veth])
    } catch {}
    try {
      execFileSync('ip', ['netns', 'del', ns])
    } catch {}
  })

  const spec = (name: string, network: 'public' | 'off'): InstanceSpec => ({ ...env.spec(name), network })
  const reach = (addr: string, port: number) =>
    `timeout 3 bash -c 'exec 3<>/dev/tcp/${addr}/${port} && echo open-${addr}-${port}' 2>/dev/null || echo closed-${addr}-${port}`

  it('reaches the internet, never the host, its networks, metadata or private ranges', async () => {
    const a = spec('pub', 'public')
    const r = await runIn(
      env.driver,
      a,
      [
        `curl -s -m 5 http://${INET}/ || echo no-internet`,
        reach('127.0.0.1', hostPort),
        reach('10.0.2.2', hostPort),
        reach(HOST_SIDE, hostPort),
        reach(hostAddr, hostPort),
        reach('169.254.169.254', 80),
        reach('10.1.2.3', 80),
        reach('192.168.1.1', 80),
        reach('100.64.0.1', 80),
        '/usr/sbin/ip route 2>/dev/null | head -3',
        // No capability in its own namespace: routes and rules stay as the host set them.
        '/usr/sbin/ip route add 10.9.0.0/16 dev tap0 2>/dev/null && echo route-changed',
        '/usr/sbin/nft flush ruleset 2>/dev/null && echo rules-flushed',
        'cat /etc/resolv.conf',
      ].join('; '),
      30_000,
    )
    expect(r.out).toContain('hello from the internet')
    for (const [addr, port] of [
      ['127.0.0.1', hostPort],
      ['10.0.2.2', hostPort],
      [HOST_SIDE, hostPort],
      [hostAddr, hostPort],
      ['169.254.169.254', 80],
      ['10.1.2.3', 80],
      ['192.168.1.1', 80],
      ['100.64.0.1', 80],
    ])
      expect(r.out, `${addr}:${port}`).toContain(`closed-${addr}-${port}`)
    expect(r.out).not.toContain('route-changed')
    expect(r.out).not.toContain('rules-flushed')
    expect(r.out).toContain('nameserver 10.0.2.3')
    expect(r.out).toContain('default via 10.0.2.2')
  })

  it('has no route at all when off', async () => {
    const off = spec('off', 'off')
    const r = await runIn(
      env.driver,
      off,
      `cat /proc/net/route | tail -n +2 | wc -l; curl -s -m 3 http://${INET}/ || echo no-internet`,
    )
    expect(r.out.trim().split('\n')[0]).toBe('0')
    expect(r.out).toContain('no-internet')
    expect(r.out).not.toContain('hello from the internet')
  })

  it('leaves no slirp4netns behind and the host mounts as they were', async () => {
    const a = spec('life', 'public')
    const rec = await env.driver.launch(a, ['/bin/sleep', '300'])
    expect(rec.slirpPid).toBeGreaterThan(0)
    expect(fs.existsSync(`/proc/${rec.slirpPid}`)).toBe(true)
    await env.driver.stop(a.id, 100)
    await slirpGone(rec.slirpPid as number)
    // A sandbox whose payload ends by itself takes its slirp4netns along.
    const b = spec('ends', 'public')
    const rb = await env.driver.launch(b, ['/bin/sh', '-c', 'sleep 0.5'])
    await env.driver.waitForExit(b.id, 10_000)
    await slirpGone(rb.slirpPid as number)
    expect(hostMounts()).toEqual(mountsBefore)
  })

  it('gives an instance created through the API its network, kept across a server crash', async () => {
    const s = await startServer(TEST_ENV)
    try {
      const key = await s.user('net@example.com', 'net')
      const inst = (await s.readyInstance(key)) as { id: string; network: string }
      expect(inst.network).toBe('public')
      const fetchInet = `curl -s -m 5 http://${INET}/ || echo no-internet`
      expect((await s.exec(inst.id, fetchInet, {}, key)).stdout).toContain('hello from the internet')
      expect((await s.exec(inst.id, reach(hostAddr, hostPort), {}, key)).stdout).toContain('closed-')
      const rec = JSON.parse(
        fs.readFileSync(`${s.dataDir}/instances/${inst.id}/state/sandbox.json`, 'utf8'),
      ) as { slirpPid: number }
      // The network belongs to the sandbox, not to the server: it outlives a crash of the server.
      await s.kill9()
      await s.start()
      await s.waitStatus(inst.id, 'ready', key)
      expect((await s.exec(inst.id, fetchInet, {}, key)).stdout).toContain('hello from the internet')
      expect(fs.existsSync(`/proc/${rec.slirpPid}`)).toBe(true)
      // Off on a plan that allows public: no route.
      const off = (await s.api('POST', '/api/instances', { key, body: { network: 'off' } })).body
      await s.waitStatus(off.id, 'ready', key)
      expect((await s.exec(off.id, fetchInet, {}, key)).stdout).toContain('no-internet')
      expect((await s.api('DELETE', `/api/instances/${inst.id}`, { key })).status).toBeLessThan(300)
      await slirpGone(rec.slirpPid)
    } finally {
      await s.destroy()
    }
  }, 120_000)
})
