import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'
import { Term } from './helpers/ws.js'

const V1 = !fs.existsSync('/sys/fs/cgroup/cgroup.controllers')
/** An instance's cgroup folder of one hierarchy (v1: pids, memory, cpu, freezer; v2: the one). */
const cgroupDir = (id: string, controller: string) =>
  V1 ? `/sys/fs/cgroup/${controller}/clawport/${id}` : `/sys/fs/cgroup/clawport/${id}`

/**
 * Runaway workloads, on the `tiny` plan (64 processes, 160 MiB, half a CPU): each instance's
 * clawlet keeps its own share while its commands run away, and the host ends a workload stuck
 * at its pids or memory limit. Another instance and the API answer all along (how fast:
 * bench/runaway.ts).
 */
describe('runaway workloads', () => {
  let s: TestServer
  let key: string
  let bomb: string
  let burner: string
  let other: string
  let otherKey: string

  beforeAll(async () => {
    s = await startServer(TEST_ENV)
    key = await s.user('runaway@example.com', 'tiny')
    otherKey = await s.user('neighbour@example.com', 'tiny')
    ;[bomb, burner, other] = (
      await Promise.all([s.readyInstance(key), s.readyInstance(key), s.readyInstance(otherKey)])
    ).map((i) => i.id) as [string, string, string]
  }, 120_000)
  afterAll(() => s?.destroy())

  /** Lines the server logged about runaway kills of an instance. */
  const kills = (id: string) =>
    s.output
      .split('\n')
      .filter((l) => l.includes('runaway processes killed') && l.includes(id))
      .map((l) => JSON.parse(l) as Record<string, unknown>)

  /** Checks that exec on the other instance and GET /api/instances answer while `until` has not resolved. */
  async function neighboursAnswer(until: Promise<unknown>): Promise<number> {
    let done = false
    void until.finally(() => {
      done = true
    })
    let rounds = 0
    while (!done) {
      const [exec, list] = await Promise.all([
        s.api('POST', `/api/instances/${other}/terminal/exec`, {
          key: otherKey,
          body: { command: 'echo fine' },
        }),
        s.api('GET', '/api/instances', { key }),
      ])
      expect(exec.status).toBe(200)
      expect(exec.body.stdout).toBe('fine\n')
      expect(list.status).toBe(200)
      rounds++
      await new Promise((r) => setTimeout(r, 200))
    }
    return rounds
  }

  /** Waits until the server logged more than `seen` runaway kills of an instance. */
  const killed = (id: string, seen: number, timeoutMs: number) =>
    waitFor(`a runaway kill of ${id}`, () => kills(id).length > seen, { timeoutMs, intervalMs: 250 })

  /** Waits until the instance runs a command that forks (a pipeline), as it cannot while the bomb holds it. */
  const recovered = (id: string, timeoutMs: number) =>
    waitFor(
      `${id} to run a pipeline again`,
      async () => {
        const res = await s.api('POST', `/api/instances/${id}/terminal/exec`, {
          key,
          body: { command: 'ls / | wc -l', timeout_ms: 5000 },
        })
        return res.status === 200 && res.body.exit_code === 0 && Number(res.body.stdout) > 3
      },
      { timeoutMs, intervalMs: 500 },
    )

  it('puts commands in the workload cgroup and keeps the clawlet in the door', async () => {
    const mine = await s.exec(bomb, 'cat /proc/self/cgroup', {}, key)
    expect(mine.stdout).toMatch(
      new RegExp(`pids:/clawport/${bomb}/workload$|^0::/clawport/${bomb}/workload$`, 'm'),
    )
    const status = await s.api('GET', `/api/instances/${bomb}/status`, { key })
    const monitor = status.body.sandbox.pid as number
    // The payload (the clawlet, the child of the namespace's init) runs in the door.
    const children = (pid: number) =>
      spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .filter(Boolean)
        .map(Number)
    const clawlets = children(monitor)
      .flatMap(children)
      .filter((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('clawlet/main.js'))
    expect(clawlets).toHaveLength(1)
    expect(fs.readFileSync(`/proc/${clawlets[0]}/cgroup`, 'utf8')).toContain(`/clawport/${bomb}/door`)
    // A terminal's shell is the workload's too.
    const term = await Term.open(`${s.url.replace(/^http/, 'ws')}/api/instances/${bomb}/terminal/ws`, {
      authorization: `Bearer ${key}`,
    })
    term.type('cat /proc/$$/cgroup\r')
    await term.waitOutput(new RegExp(`:/clawport/${bomb}/workload`))
    term.ws.close()
  })

  it('cannot raise its limits or move itself out of its cgroups', async () => {
    const inside = await s.exec(
      bomb,
      'ls /sys/fs/cgroup 2>&1; mount -t cgroup -o pids none /tmp 2>&1; echo $$ > /run/workload-cgroup/pids && echo joined',
      {},
      key,
    )
    expect(inside.stdout).toContain('No such file')
    expect(inside.stdout).not.toMatch(/pids\.max|memory/)
    // Joining its own workload again is all the one writable file allows.
    if (V1) expect(inside.stdout).toContain('joined')
    // Even a process of the instance's uid that reached the files could not use them.
    const uid = hostUid((await s.api('GET', `/api/instances/${bomb}/status`, { key })).body.sandbox.pid)
    const pids = cgroupDir(bomb, 'pids')
    const attempts = [
      `echo 100000 > ${pids}/pids.max`,
      `echo 100000 > ${pids}/workload/pids.max`,
      `echo $$ > ${pids}/door/cgroup.procs`,
      `echo $$ > ${V1 ? '/sys/fs/cgroup/pids' : '/sys/fs/cgroup'}/cgroup.procs`,
      `echo $$ > ${V1 ? '/sys/fs/cgroup/pids/clawport' : '/sys/fs/cgroup/clawport'}/cgroup.procs`,
      `echo max > ${cgroupDir(bomb, 'memory')}/workload/${V1 ? 'memory.limit_in_bytes' : 'memory.max'}`,
      `mkdir ${pids}/workload/escape`,
    ]
    for (const cmd of attempts) {
      const r = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'sh', '-c', cmd])
      expect(r.status, cmd).not.toBe(0)
    }
    expect(fs.readFileSync(`${pids}/workload/pids.max`, 'utf8').trim()).toBe('40')
  })

  it('ends a detached fork bomb; the instance answers again, its neighbour and the API all along', async () => {
    // At 40 processes `f | f &` often dies out by itself (each process exits once it forked or
    // failed to); this one never gives up: every process keeps forking, as at a larger limit.
    const launched = await s.exec(
      bomb,
      "bash -c 'f() { while :; do f & done; }; f' >/dev/null 2>&1 &",
      { timeout_ms: 5000 },
      key,
    )
    expect(launched.timed_out).toBe(false)
    // The clawlet keeps its own share: a command that needs no fork answers while the bomb runs.
    expect((await s.exec(bomb, 'echo door open', {}, key)).stdout).toBe('door open\n')
    const ended = killed(bomb, 0, 60_000)
    expect(await neighboursAnswer(ended)).toBeGreaterThan(0)
    await ended
    await recovered(bomb, 5000)
    // Nothing of the bomb is left: the workload holds only the command that counts it.
    expect(Number(fs.readFileSync(`${cgroupDir(bomb, 'pids')}/workload/pids.current`, 'utf8'))).toBeLessThan(
      5,
    )
    const [kill] = kills(bomb)
    expect(kill?.reason).toBe('pids_limit')
    expect(kill?.processes_killed as number).toBeGreaterThan(10)
    expect(kill?.pids_limit).toBe(40)
    // The owner reads it in the instance's lifecycle events.
    const events = await s.api('GET', `/api/instances/${bomb}/events?after=0`, { key })
    const event = (events.body as Array<{ type: string; data: Record<string, unknown> }>).find(
      (e) => e.type === 'runaway_processes_killed',
    )
    expect(event?.data).toMatchObject({ reason: 'pids_limit', pids_limit: 40 })
    expect(event?.data.processes_killed).toBe(kill?.processes_killed)
    expect((await s.api('GET', `/api/instances/${bomb}`, { key })).body.status).toBe('ready')
    expect(spawnSync('true').status).toBe(0)
  }, 90_000)

  it('ends a memory hog restarted over and over at the memory limit', async () => {
    const before = kills(bomb).length
    const hog = `nohup sh -c 'while :; do python3 -c "b = b\\"x\\" * (300 << 20)"; done' >/dev/null 2>&1 &`
    expect((await s.exec(bomb, hog, {}, key)).exit_code).toBe(0)
    const ended = killed(bomb, before, 60_000)
    await neighboursAnswer(ended)
    await ended
    expect(kills(bomb).at(-1)?.reason).toBe('memory_limit')
    expect((kills(bomb).at(-1)?.oom_kills as number) >= 3).toBe(true)
    await recovered(bomb, 10_000)
    expect((await s.exec(bomb, 'pgrep -c python3 || true', {}, key)).stdout.trim()).toBe('0')
  }, 90_000)

  it('limits a CPU burner without killing it; the neighbour keeps answering', async () => {
    const burn = 'for i in 1 2 3 4; do nohup python3 -c "while True: pass" >/dev/null 2>&1 & done'
    expect((await s.exec(burner, burn, {}, key)).exit_code).toBe(0)
    expect(await neighboursAnswer(new Promise((r) => setTimeout(r, 10_000)))).toBeGreaterThan(0)
    // Still there: a burner is limited by its quota, not ended.
    expect((await s.exec(burner, 'pgrep -c python3', {}, key)).stdout.trim()).toBe('4')
    expect(kills(burner)).toHaveLength(0)
    const quota = Number(fs.readFileSync(`${cgroupDir(burner, 'cpu')}/cpu.cfs_quota_us`, 'utf8'))
    if (V1) expect(quota).toBe(50_000)
    await s.exec(burner, 'pkill python3; true', {}, key)
  }, 60_000)
})

/** The host uid a process runs as. */
function hostUid(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
}
