import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import https from 'node:https'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { replicaCredential } from '../src/runner/auth.js'
import { createHosts, type NetnsHost, type NetnsHosts, netnsHostsUnavailable } from './helpers/netns-hosts.js'
import { freshDatabase, havePostgres, PG_SKIP_REASON } from './helpers/postgres.js'
import { startRunner as startRunnerProcess } from './helpers/runner.js'
import { REPO, TEST_SECRET_KEY, TestServer, tempDataDir } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'
import { Term } from './helpers/ws.js'

/**
 * Instances on two runner "hosts" (each in its own network namespace, reached over a bridge),
 * driven through two control-plane replicas sharing one PostgreSQL. Instances run with no
 * network: nothing here leaves this machine.
 */
const SKIP = havePostgres() ? netnsHostsUnavailable() : PG_SKIP_REASON
if (SKIP) console.log(`runners: skipped (${SKIP})`)

const TOKEN = 'runner-test-token-0123456789abcdef0123456789'
const BIN = path.join(REPO, 'bin/clawport.js')

interface RunnerProc {
  name: string
  host: NetnsHost
  dataDir: string
  proc?: ChildProcess
}

describe.skipIf(Boolean(SKIP))('runners on other hosts', () => {
  let net: NetnsHosts
  let dropDb: () => Promise<void> = async () => {}
  let dbUrl = ''
  const replicas: TestServer[] = []
  const runners: RunnerProc[] = []
  /** Instance id -> the runner holding it. */
  const placedOn = new Map<string, string>()
  let controlDir = ''

  const startRunner = async (r: RunnerProc, server: string): Promise<string> => {
    const started = await startRunnerProcess({
      server,
      name: r.name,
      listen: `${r.host.address}:7443`,
      dataDir: r.dataDir,
      memoryMb: 16384,
      env: {
        CLAWPORT_DATABASE_URL: dbUrl,
        CLAWPORT_RUNNER_TOKEN: TOKEN,
        CLAWPORT_UID_BASE: String(330_000 + runners.indexOf(r) * 1000),
      },
      spawn: (cmd, args, opts) => r.host.spawn(cmd, args, opts),
    })
    r.proc = started.proc
    return started.ready
  }

  const overview = async (via = replicas[0] as TestServer) => {
    const res = await via.api('GET', '/api/admin/runners')
    expect(res.status).toBe(200)
    return res.body as {
      local: { enabled: boolean }
      runners: Array<{ name: string; health: string; state: string; used: { instances: number } }>
    }
  }

  const runnerState = async (name: string) => (await overview()).runners.find((r) => r.name === name)

  /** Waits for `fn` to answer a value; a call that fails (a runner cut off, say) is tried again. */
  const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 45_000) =>
    waitFor(what, () => fn().catch(() => undefined), { timeoutMs, intervalMs: 250 })

  /** Creates an instance (no network) through `via` and waits until it is ready; records its runner. */
  const create = async (via: TestServer, name: string): Promise<string> => {
    const res = await via.api('POST', '/api/instances', { body: { name, network: 'off' } })
    expect(res.status, JSON.stringify(res.body)).toBe(201)
    await via.waitStatus(res.body.id, 'ready', via.adminKey, 90_000)
    const holders = runners.filter((r) => fs.existsSync(path.join(r.dataDir, 'instances', res.body.id)))
    expect(holders, `runners holding ${res.body.id}`).toHaveLength(1)
    placedOn.set(res.body.id, (holders[0] as RunnerProc).name)
    return res.body.id
  }

  const onRunner = (name: string) => [...placedOn].filter(([, r]) => r === name).map(([id]) => id)

  beforeAll(async () => {
    net = await createHosts(2)
    const db = await freshDatabase('runners')
    dropDb = db.drop
    const url = new URL(db.url)
    url.hostname = net.bridgeAddress
    dbUrl = url.toString()
    controlDir = tempDataDir('clawport-runners-cp-')
    const env = {
      CLAWPORT_DATABASE_URL: dbUrl,
      CLAWPORT_SECRET_KEY: TEST_SECRET_KEY,
      CLAWPORT_RUNNER_TOKEN: TOKEN,
      CLAWPORT_LOCAL_INSTANCES: 'off',
      CLAWPORT_GATEWAY: 'off',
      CLAWPORT_DESKTOP: 'off',
      CLAWPORT_HOST: net.bridgeAddress,
      // Small sandboxes: a fork bomb reaches the process limit at once.
      CLAWPORT_PLANS: JSON.stringify([
        { name: 'free', instance_limit: 0, network: 'off' },
        {
          name: 'team',
          instance_limit: 20,
          memory_mb: 2048,
          cpus: 1,
          pids_max: 96,
          disk_mb: 256,
          network: 'off',
        },
      ]),
    }
    const first = await new TestServer(controlDir, { ...env }).start()
    const second = await new TestServer(controlDir, { ...env }).start()
    second.adminKey = first.adminKey
    replicas.push(first, second)
    for (const [i, host] of net.hosts.entries()) {
      runners.push({ name: `runner-${i}`, host, dataDir: tempDataDir(`clawport-runner-${i}-`) })
    }
    // Each runner calls back through a different replica.
    await Promise.all(runners.map((r, i) => startRunner(r, (replicas[i % 2] as TestServer).url)))
  }, 180_000)

  afterAll(async () => {
    for (const id of placedOn.keys()) await replicas[0]?.api('DELETE', `/api/instances/${id}`).catch(() => {})
    for (const r of runners) {
      r.proc?.kill('SIGTERM')
      await new Promise((resolve) => setTimeout(resolve, 300))
    }
    for (const s of replicas.slice(1)) await s.stop().catch(() => {})
    await replicas[0]?.destroy()
    // Whatever a failed test left on a runner's host goes with its folder.
    for (const r of runners) {
      await new TestServer(r.dataDir).destroy().catch(() => {})
    }
    await net?.cleanup()
    await dropDb()
  }, 180_000)

  it('registers the runners and spreads instances over them by free memory', async () => {
    const seen = await overview()
    expect(seen.local.enabled).toBe(false)
    expect(seen.runners.map((r) => [r.name, r.health, r.state])).toEqual([
      ['runner-0', 'healthy', 'active'],
      ['runner-1', 'healthy', 'active'],
    ])
    // One at a time, alternating replicas: the runner with more free memory takes the next.
    for (let i = 0; i < 4; i++) await create(replicas[i % 2] as TestServer, `spread-${i}`)
    expect(onRunner('runner-0')).toHaveLength(2)
    expect(onRunner('runner-1')).toHaveLength(2)
    const after = await overview(replicas[1])
    expect(after.runners.map((r) => r.used.instances)).toEqual([2, 2])
  }, 240_000)

  it('answers exec, files and the terminal of every runner through either replica', async () => {
    for (const name of ['runner-0', 'runner-1']) {
      const id = onRunner(name)[0] as string
      for (const via of replicas) {
        const out = await via.exec(id, 'echo on-$(hostname | cut -c1-4) && id -u')
        expect(out.exit_code).toBe(0)
        expect(out.stdout).toMatch(/^on-claw\n\d+\n$/)
        const write = await via.api('POST', `/api/instances/${id}/files/write`, {
          body: { path: '/workspace/via.txt', content: `written via ${via.url}` },
        })
        expect(write.status, JSON.stringify(write.body)).toBeLessThan(300)
        const read = await (replicas[1 - replicas.indexOf(via)] as TestServer).api(
          'GET',
          `/api/instances/${id}/files/read?path=/workspace/via.txt`,
        )
        expect(read.status).toBe(200)
        expect(JSON.stringify(read.body)).toContain(`written via ${via.url}`)
      }
      // Its logs and usage come from the runner's host too.
      const logs = await (replicas[0] as TestServer).api(
        'GET',
        `/api/instances/${id}/logs?source=clawlet&tail=5`,
      )
      expect(logs.status, JSON.stringify(logs.body)).toBe(200)
      expect(logs.body.lines.length).toBeGreaterThan(0)
      const metrics = await (replicas[1] as TestServer).api('GET', `/api/instances/${id}/metrics`)
      expect(metrics.status, JSON.stringify(metrics.body)).toBe(200)
      // The file is on the runner's host, in the instance's folder there.
      const hostDir = runners.find((r) => r.name === name)?.dataDir as string
      expect(fs.existsSync(path.join(hostDir, 'instances', id))).toBe(true)
      const via = replicas[1] as TestServer
      const term = await Term.open(`${via.url.replace(/^http/, 'ws')}/api/instances/${id}/terminal/ws`, {
        authorization: `Bearer ${via.adminKey}`,
      })
      try {
        term.type('echo term-$((40+2))\n')
        await term.waitOutput(/term-42/)
      } finally {
        await term.close()
      }
    }
  }, 120_000)

  it("routes an instance's door calls through its runner to the control plane", async () => {
    const id = onRunner('runner-1')[0] as string
    const script = [
      "const http = require('node:http')",
      "http.get({ socketPath: '/run/clawport-door/control.sock', path: '/api/self' }, (res) => {",
      "  let d = ''; res.on('data', (c) => (d += c)); res.on('end', () => console.log(res.statusCode, d))",
      '}).on(\'error\', (e) => console.log("error", e.message))',
    ].join('\n')
    const out = await (replicas[0] as TestServer).exec(
      id,
      `/opt/clawport/bin/node -e "${script.replace(/"/g, '\\"')}"`,
    )
    expect(out.stdout.startsWith('200 '), out.stdout + out.stderr).toBe(true)
    expect(JSON.parse(out.stdout.slice(4)).instance.id).toBe(id)
  }, 60_000)

  it("refuses callers without the runners' credentials, on the runner and on the control plane", async () => {
    const r = runners[0] as RunnerProc
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        https
          .get(`https://${r.host.address}:7443/v1/health`, { rejectUnauthorized: false, headers }, (res) => {
            res.resume()
            resolve(res.statusCode ?? 0)
          })
          .on('error', reject)
      })
    expect(await status({})).toBe(401)
    // A replica's malformed request is a 400, not the runner's failure.
    const bad = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        `https://${r.host.address}:7443/v1/instances/${onRunner('runner-0')[0]}/door`,
        {
          method: 'PUT',
          rejectUnauthorized: false,
          headers: {
            authorization: `Bearer ${replicaCredential(TOKEN)}`,
            'content-type': 'application/json',
          },
        },
        (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        },
      )
      req.on('error', reject)
      req.end('{not json')
    })
    expect(bad).toBe(400)
    expect(await status({ authorization: `Bearer ${TOKEN}` })).toBe(401)
    // A forged door call (no runner credential) names nothing.
    const id = onRunner('runner-0')[0] as string
    const forged = await fetch(`${(replicas[0] as TestServer).url}/_runner/door/${id}/api/self`, {
      headers: { authorization: `Bearer ${TOKEN}`, 'x-clawport-runner': 'runner-0' },
    })
    expect(forged.status).toBe(404)
  })

  it('doctor checks a runner host: the database, the token, the control plane', async () => {
    const host = (runners[0] as RunnerProc).host
    const env = { ...process.env, CLAWPORT_DATABASE_URL: dbUrl, CLAWPORT_LOG_LEVEL: 'silent' }
    const args = [BIN, 'doctor', '--runner', '--data-dir', tempDataDir('clawport-runner-doctor-')]
    const good = await host.exec(process.execPath, [...args, '--server', (replicas[0] as TestServer).url], {
      env: { ...env, CLAWPORT_RUNNER_TOKEN: TOKEN },
      timeoutMs: 60_000,
    })
    expect(good.stdout).toMatch(/ok +runner token set/)
    expect(good.stdout).toMatch(/ok +database .* reachable \(2 runners registered\)/)
    expect(good.stdout).toMatch(/ok +control plane http:\/\/\S+ answers/)
    expect(good.stdout).not.toContain('postgres://clawport_test:clawport_test')
    const bad = await host.exec(
      process.execPath,
      [...args, '--server', 'http://10.231.255.254:9', '--token', 'short'],
      {
        env,
        timeoutMs: 60_000,
      },
    )
    expect(bad.code).toBe(1)
    expect(bad.stdout).toMatch(/FAIL +the runner token must be at least 32 characters/)
    expect(bad.stdout).toMatch(/FAIL +control plane http:\/\/10.231.255.254:9 is out of reach/)
  }, 120_000)

  it("records a runaway workload its runner ended in the instance's events", async () => {
    const via = replicas[1] as TestServer
    const id = await create(replicas[0] as TestServer, 'bomb')
    const launched = await via.exec(id, "bash -c 'f() { while :; do f & done; }; f' >/dev/null 2>&1 &", {
      timeout_ms: 5000,
    })
    expect(launched.timed_out).toBe(false)
    const event = await until(
      'a runaway event',
      async () => {
        const events = await via.api('GET', `/api/instances/${id}/events?after=0`)
        return (events.body as Array<{ type: string; data: Record<string, unknown> }>).find(
          (e) => e.type === 'runaway_processes_killed',
        )
      },
      90_000,
    )
    // The workload's share of the plan's 96 processes (the clawlet keeps its own).
    expect(event.data).toMatchObject({ reason: 'pids_limit' })
    expect(event.data.pids_limit as number).toBeGreaterThan(0)
    expect(event.data.pids_limit as number).toBeLessThanOrEqual(96)
    expect(event.data.processes_killed as number).toBeGreaterThan(10)
    // The instance answers again once its workload is gone.
    const again = await until('exec after the runaway', async () => {
      const r = await via.exec(id, 'echo back')
      return r.exit_code === 0 ? r : undefined
    })
    expect(again.stdout).toBe('back\n')
  }, 150_000)

  it('a runner cut off turns unresponsive, takes no new instances, and its instances keep running', async () => {
    const cut = runners[0] as RunnerProc
    const id = onRunner(cut.name)[0] as string
    await (replicas[0] as TestServer).exec(id, 'echo before-cut > /tmp/mark')
    await cut.host.cut()
    try {
      await until('runner-0 unresponsive', async () =>
        (await runnerState('runner-0'))?.health === 'unresponsive' ? true : undefined,
      )
      const created = await create(replicas[1] as TestServer, 'while-cut')
      expect(placedOn.get(created)).toBe('runner-1')
    } finally {
      await cut.host.restore()
    }
    await until('runner-0 healthy again', async () =>
      (await runnerState('runner-0'))?.health === 'healthy' ? true : undefined,
    )
    // The same sandbox answers again: its tmpfs still holds what was written before the cut.
    const out = await until('exec after the link returned', async () => {
      const r = await (replicas[1] as TestServer).exec(id, 'cat /tmp/mark')
      return r.exit_code === 0 ? r : undefined
    })
    expect(out.stdout).toBe('before-cut\n')
  }, 180_000)

  it('a runner killed with SIGKILL re-adopts its running instances and finishes a job queued meanwhile', async () => {
    const r = runners[1] as RunnerProc
    const [keep, stop] = onRunner(r.name) as [string, string]
    await (replicas[0] as TestServer).exec(keep, 'echo before-kill > /tmp/mark')
    await (replicas[0] as TestServer).exec(stop, 'echo kept > /workspace/kept.txt')
    const exited = new Promise((resolve) => r.proc?.once('exit', resolve))
    r.proc?.kill('SIGKILL')
    await exited
    // Its heartbeat is still fresh: the stop is queued, and waits for the runner to come back.
    const asked = await (replicas[1] as TestServer).api('POST', `/api/instances/${stop}/shutdown`)
    expect(asked.status, JSON.stringify(asked.body)).toBeLessThan(300)
    const line = await startRunner(r, (replicas[1] as TestServer).url)
    expect(line).toMatch(/[1-9]\d* running instances adopted/)
    await (replicas[0] as TestServer).waitStatus(stop, 'stopped', undefined, 60_000)
    const out = await (replicas[0] as TestServer).exec(keep, 'cat /tmp/mark')
    expect(out.stdout).toBe('before-kill\n')
    // And it starts again on the same runner, with its workspace.
    expect(
      (await (replicas[0] as TestServer).api('POST', `/api/instances/${stop}/start`)).status,
    ).toBeLessThan(300)
    await (replicas[0] as TestServer).waitStatus(stop, 'ready', undefined, 60_000)
    expect((await (replicas[1] as TestServer).exec(stop, 'cat /workspace/kept.txt')).stdout).toBe('kept\n')
  }, 180_000)

  it('a draining runner keeps its instances and takes no new ones; removal waits for it to be empty', async () => {
    const cp = replicas[0] as TestServer
    expect(await cp.admin('runner', 'drain', 'runner-1')).toMatch(/runner-1 is draining/)
    const created = await create(cp, 'while-draining')
    expect(placedOn.get(created)).toBe('runner-0')
    const kept = onRunner('runner-1')[0] as string
    expect((await cp.exec(kept, 'true')).exit_code).toBe(0)
    const refused = await cp.api('DELETE', '/api/admin/runners/runner-1')
    expect(refused.status).toBe(409)
    expect(refused.body.code).toBe('runner_has_instances')
    expect(await cp.admin('runner', 'list')).toMatch(/runner-1\s+healthy\s+draining/)
    // Deleting its instances empties its host; then it can be removed.
    for (const id of onRunner('runner-1')) {
      expect((await cp.api('DELETE', `/api/instances/${id}`)).status).toBe(204)
      placedOn.delete(id)
      await until(`${id} gone from runner-1`, async () =>
        fs.existsSync(path.join((runners[1] as RunnerProc).dataDir, 'instances', id)) ? undefined : true,
      )
    }
    expect((await cp.api('DELETE', '/api/admin/runners/runner-1')).status).toBe(204)
    expect((await overview()).runners.map((r) => r.name)).toEqual(['runner-0'])
  }, 180_000)
})
