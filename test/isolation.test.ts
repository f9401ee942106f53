import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

describe('isolation as seen through the API', () => {
  let s: TestServer
  let a: string
  let b: string
  let secretFile: string
  let hostServer: net.Server
  let hostPort: number

  beforeAll(async () => {
    s = await startServer(TEST_ENV)
    ;[a, b] = (await Promise.all([
      s.readyInstance().then((i) => i.id),
      s.readyInstance().then((i) => i.id),
    ])) as [string, string]
    secretFile = path.join(os.tmpdir(), `clawport-host-secret-${process.pid}`)
    fs.writeFileSync(secretFile, 'host secret', { mode: 0o644 })
    hostServer = net.createServer((c) => c.end('host service\n'))
    await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', r))
    hostPort = (hostServer.address() as net.AddressInfo).port
  })
  afterAll(async () => {
    fs.rmSync(secretFile, { force: true })
    hostServer?.close()
    await s?.destroy()
  })

  it('runs as an unprivileged user with no capabilities', async () => {
    const caps = await s.exec(a, 'grep -E "^Cap(Eff|Prm|Bnd)" /proc/self/status')
    for (const line of caps.stdout.trim().split('\n')) expect(line).toMatch(/\t0{16}$/)
    expect((await s.exec(a, 'id -u')).stdout).toBe('1000\n')
    // Seen from the host, the sandbox runs as the instance's own unprivileged uid.
    const status = await s.api('GET', `/api/instances/${a}/status`)
    const hostStatus = fs.readFileSync(`/proc/${status.body.sandbox.pid}/status`, 'utf8')
    const hostUid = Number(/^Uid:\s+(\d+)/m.exec(hostStatus)?.[1])
    expect(hostUid).toBeGreaterThanOrEqual(200_000)
    const other = await s.api('GET', `/api/instances/${b}/status`)
    const otherUid = Number(
      /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${other.body.sandbox.pid}/status`, 'utf8'))?.[1],
    )
    expect(otherUid).not.toBe(hostUid)
  })

  it('cannot read host files outside the instance or write system folders', async () => {
    const read = await s.exec(
      a,
      `cat ${secretFile}; cat ${path.join(s.dataDir, 'clawport.db')} | head -c 16; ls /root`,
    )
    expect(read.stdout).not.toContain('host secret')
    expect(read.stdout).not.toContain('SQLite format')
    expect(read.exit_code).not.toBe(0)
    const write = await s.exec(a, 'touch /usr/bin/evil; echo x > /etc/passwd; mkdir /evil')
    expect(write.exit_code).not.toBe(0)
    expect(fs.existsSync('/usr/bin/evil')).toBe(false)
    expect(fs.existsSync('/evil')).toBe(false)
    expect((await s.exec(a, 'unshare -U true')).exit_code).not.toBe(0)
    expect((await s.exec(a, 'mount -t tmpfs none /tmp')).exit_code).not.toBe(0)
  })

  it('cannot see another instance: files, processes or network', async () => {
    await s.exec(b, 'echo b-only > marker-of-b.txt; nohup sleep 600 >/dev/null 2>&1 &')
    const look = await s.exec(a, 'find / -name "marker-of-*" 2>/dev/null; ls /workspace; ps -eo args')
    expect(look.stdout).not.toContain('marker-of-b')
    expect(look.stdout).not.toContain('sleep 600')
    // No process inside shows host paths (bwrap reads its arguments from a descriptor).
    const cmdlines = await s.exec(a, "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '")
    expect(cmdlines.stdout).not.toContain(s.dataDir)
    expect(cmdlines.stdout).toContain('--args 5')
    const ifaces = await s.exec(a, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")
    expect(ifaces.stdout.trim()).toBe('lo')
    const reach = await s.exec(a, `timeout 3 bash -c 'cat < /dev/tcp/127.0.0.1/${hostPort}'`)
    expect(reach.stdout).not.toContain('host service')
    expect(reach.exit_code).not.toBe(0)
  })

  it('keeps a fork bomb and a memory hog inside their instance', async () => {
    const key = await s.user('tiny@example.com', 'tiny')
    const t = (await s.readyInstance(key)).id
    /** Runs a command; while the bomb's last processes die, a command that cannot start is a 503. */
    const execSettled = async (command: string, timeout_ms = 30_000) => {
      for (let i = 0; ; i++) {
        const res = await s.api('POST', `/api/instances/${t}/terminal/exec`, {
          key,
          body: { command, timeout_ms },
        })
        if (res.status !== 503 || i >= 40) return res
        expect(res.body.code).toBe('instance_resources_exhausted')
        await new Promise((r) => setTimeout(r, 250))
      }
    }
    // The shell stays busy without forking, so the timeout ends it and kills its whole group,
    // unless it is ended first: by the host's runaway watcher (forks refused at the limit for 3
    // of 4 s), or by the kernel's OOM killer (the bomb's shells fill the plan's 160 MB).
    const bomb = await s.exec(
      t,
      'bomb() { bomb | bomb & }; bomb; while :; do :; done',
      { timeout_ms: 4000 },
      key,
    )
    if (!bomb.timed_out) {
      const ended = await waitFor(
        () => `the runaway or OOM event of a bomb that ended early: ${JSON.stringify(bomb)}`,
        async () => {
          const events = (await s.api('GET', `/api/instances/${t}/events?after=0`, { key })).body as Array<{
            type: string
            data: Record<string, unknown>
          }>
          return events.find((e) => e.type === 'runaway_processes_killed' || e.type === 'oom_killed')
        },
      )
      if (ended.type === 'runaway_processes_killed')
        expect(ended.data).toMatchObject({ reason: 'pids_limit' })
    }
    expect(spawnSync('true').status).toBe(0)
    expect((await s.exec(b, 'echo other instance fine')).stdout).toBe('other instance fine\n')
    const afterBomb = await execSettled('echo survived')
    expect(afterBomb.status).toBe(200)
    expect(afterBomb.body.stdout).toBe('survived\n')

    const hog = await execSettled('python3 -c "a = bytearray(600 * 1024 * 1024); print(len(a))"')
    expect(hog.status).toBe(200)
    expect(hog.body.stdout).not.toContain(String(600 * 1024 * 1024))
    expect(hog.body.exit_code).not.toBe(0)
    expect((await s.exec(t, 'echo still here', {}, key)).stdout).toBe('still here\n')
    expect((await s.api('GET', `/api/instances/${t}`, { key })).body.status).toBe('ready')
  })

  it('stops a disk filler at the quota', async () => {
    const key = await s.user('disk@example.com', 'tiny')
    const t = (await s.readyInstance(key)).id
    const fill = await s.exec(
      t,
      'dd if=/dev/zero of=fill bs=1M count=200 2>&1; ls -l fill',
      { timeout_ms: 30_000 },
      key,
    )
    expect(fill.stdout).toMatch(/No space left|Disk quota/)
    const w = await s.api('POST', `/api/instances/${t}/files/write`, {
      key,
      body: { path: 'more', content: 'x'.repeat(1024 * 1024) },
    })
    expect(w.status).toBe(413)
    expect(w.body.code).toBe('disk_full')
  })
})
