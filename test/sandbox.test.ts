import { existsSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DriverCapabilities } from '../src/drivers/driver.js'
import { mountsUnder } from '../src/drivers/local/disk.js'
import { REPO_ROOT } from '../src/drivers/local/layout.js'
import { LocalDriver } from '../src/drivers/local/local-driver.js'
import { createLogger } from '../src/log.js'
import { execFileP, expectNoProcesses, makeDriver, pidsOfUid, runIn } from './helpers/driver.js'
import { waitFor } from './helpers/wait.js'

const isRoot = process.getuid?.() === 0
let env: Awaited<ReturnType<typeof makeDriver>>
let caps: DriverCapabilities

beforeAll(async () => {
  env = await makeDriver()
  caps = await env.driver.init()
})
afterAll(async () => {
  await env?.cleanup()
})

// Calls each check in a child with a controlling terminal for TIOCSTI; prints errno or "ok".
// mount is only tried with the "inside" argument: on the host it could succeed.
const SECCOMP_PY = `
import ctypes, os, pty, fcntl, termios, sys
libc = ctypes.CDLL(None, use_errno=True)
def res(r): return 'ok' if r >= 0 else str(ctypes.get_errno())
pid, fd = pty.fork()
if pid == 0:
    try:
        fcntl.ioctl(0, termios.TIOCSTI, b'x'); print('tiocsti ok')
    except OSError as e:
        print('tiocsti', e.errno)
    print('ptrace', res(libc.ptrace(0, 0, 0, 0)))
    if 'inside' in sys.argv:
        print('mount', res(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)))
    print('x32', res(libc.syscall(0x40000000 | 39)))
    try:
        pidfd = os.pidfd_open(os.getppid())
        print('pidfd_getfd', res(libc.syscall(438, pidfd, 1, 0)))
    except OSError as e:
        print('pidfd_getfd', e.errno)
    params = ctypes.create_string_buffer(120)
    print('io_uring', res(libc.syscall(425, 4, params)))
    try:
        import socket
        socket.socket(40, socket.SOCK_STREAM); print('vsock ok')
    except OSError as e:
        print('vsock', e.errno)
    sys.stdout.flush(); os._exit(0)
out = b''
while True:
    try: d = os.read(fd, 4096)
    except OSError: break
    if not d: break
    out += d
os.waitpid(pid, 0)
print(out.decode().replace('\\r', ''))
`

describe('local driver sandboxes', () => {
  it('checks the host from several processes on one data folder at once (replicas starting together)', async () => {
    const drivers = Array.from({ length: 4 }, () => new LocalDriver(env.config, createLogger('silent')))
    const checked = await Promise.allSettled(drivers.map((d) => d.init()))
    expect(checked.map((c) => (c.status === 'rejected' ? String(c.reason) : c.status))).toEqual(
      Array(4).fill('fulfilled'),
    )
    // Each check cleared its own scratch folder, and only that.
    expect((await fs.readdir(env.config.dataDir)).filter((f) => f.startsWith('.probe'))).toEqual([])
  })

  it('runs as the unprivileged uid, without capabilities, in its own namespaces', async () => {
    const a = env.spec('ident')
    const r = await runIn(
      env.driver,
      a,
      'id -u; grep CapEff /proc/self/status; readlink /proc/self/ns/pid /proc/self/ns/net /proc/self/ns/user /proc/self/ns/mnt; hostname',
    )
    expect(r.code).toBe(0)
    const lines = r.out.trim().split('\n')
    expect(lines[0]).toBe('1000')
    expect(lines[1]).toMatch(/CapEff:\s+0+$/)
    for (const [i, ns] of ['pid', 'net', 'user', 'mnt'].entries()) {
      expect(lines[2 + i]).not.toBe(await fs.readlink(`/proc/self/ns/${ns}`))
    }
    expect(lines[6]).toMatch(/^claw-ident/)
    // On the host the sandbox's processes belong to the instance uid, never root.
    await env.driver.launch(a, ['/bin/sleep', '30'])
    if (isRoot) {
      // Look once the payload runs: during set-up bwrap briefly holds capabilities inside its
      // own user namespace before it drops them.
      const comm = (pid: number) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
      const pids = await waitFor(
        'the payload to run',
        async () => {
          const live = await pidsOfUid(a.hostUid, true)
          return live.some((p) => comm(p) === 'sleep') && live
        },
        { timeoutMs: 10_000, intervalMs: 10 },
      )
      for (const pid of pids) expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/CapEff:\s+0+\n/)
    }
    await env.driver.stop(a.id, 100)
  })

  it('keeps the host read-only and other instances out of reach', async () => {
    const a = env.spec('fs-a')
    const b = env.spec('fs-b')
    await env.driver.provision(b)
    const secret = path.join(env.driver.layout(b.id).workspace, 'secret')
    await fs.writeFile(secret, 'b-only')
    const r = await runIn(
      env.driver,
      a,
      `for f in /usr/x /etc/x /x /opt/clawport/dist/x; do touch $f 2>/dev/null && echo "wrote $f"; done
       cat ${secret} 2>/dev/null && echo read-secret; ls /root 2>/dev/null && echo read-root
       cat ${path.join(env.config.dataDir, 'instances', b.id, 'state', 'sandbox.json')} 2>/dev/null && echo read-state
       touch /workspace/mine /tmp/t /home/claw/h && echo writable`,
    )
    expect(r.out).not.toMatch(/wrote|read-/)
    expect(r.out).toContain('writable')
    const mine = await fs.stat(path.join(env.driver.layout(a.id).workspace, 'mine'))
    if (isRoot) expect(mine.uid).toBe(a.hostUid)
    expect((await fs.stat(env.driver.layout(a.id).workspace)).mode & 0o777).toBe(0o700)
  })

  it('hides other instances processes and has only loopback networking', async () => {
    const a = env.spec('ps-a')
    const b = env.spec('ps-b')
    await env.driver.launch(a, ['/bin/sleep', '30'])
    const r = await runIn(
      env.driver,
      b,
      `cat /proc/[0-9]*/comm | sort | tr '\\n' ' '; echo
       tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '
       python3 -c "import socket; socket.create_connection(('1.1.1.1', 80), 1)" 2>&1 | tail -1
       unshare -U true 2>/dev/null && echo userns-ok; unshare -r true 2>/dev/null && echo userns-ok; true`,
    )
    const [procs, ...rest] = r.out.trim().split('\n')
    expect(procs).not.toContain('sleep')
    expect(procs?.split(' ').filter(Boolean).length).toBeLessThanOrEqual(5)
    expect(rest[0]).toBe('lo')
    expect(rest[1]).toMatch(/Network is unreachable/)
    expect(r.out).not.toContain('userns-ok')
    await env.driver.stop(a.id, 100)
  })

  it('refuses ptrace, mount, x32 and TIOCSTI through seccomp while normal programs work', async () => {
    const a = env.spec('seccomp')
    await env.driver.provision(a)
    await fs.writeFile(path.join(env.driver.layout(a.id).workspace, 'probe.py'), SECCOMP_PY, { mode: 0o644 })
    const r = await runIn(
      env.driver,
      a,
      'grep Seccomp: /proc/self/status; python3 /workspace/probe.py inside',
    )
    expect(r.out).toMatch(/Seccomp:\s+2/)
    expect(r.out).toMatch(/tiocsti 1\b/)
    expect(r.out).toMatch(/ptrace 1\b/)
    expect(r.out).toMatch(/mount 1\b/)
    expect(r.out).toMatch(/x32 1\b/)
    expect(r.out).toMatch(/pidfd_getfd 1\b/)
    expect(r.out).toMatch(/io_uring 1\b/)
    expect(r.out).toMatch(/vsock 1\b/)
    // The same calls outside the filter behave differently, so the filter is what refuses them.
    // The control runs unprivileged: never try these calls as host root.
    const python = ['/usr/bin/python3', '-c', SECCOMP_PY]
    const control = isRoot
      ? ['setpriv', `--reuid=${a.hostUid}`, `--regid=${a.hostUid}`, '--clear-groups', ...python]
      : python
    const host = await execFileP(control[0] as string, control.slice(1))
    expect(host.stdout).toMatch(/ptrace ok/)
    expect(host.stdout).toMatch(/pidfd_getfd ok/)
    expect(host.stdout).not.toMatch(/x32 1\b/)
  })

  it.skipIf(!isRoot)('stops a fork bomb at pids.max; the host and other instances stay fine', async () => {
    const bomb = env.spec('bomb', { pids_max: 64 })
    const other = env.spec('bomb-other')
    await env.driver.launch(bomb, ['/bin/sh', '-c', 'b() { b | b & }; b; sleep 20'])
    const pidsDir =
      caps.cgroup === 'v2' ? `/sys/fs/cgroup/clawport/${bomb.id}` : `/sys/fs/cgroup/pids/clawport/${bomb.id}`
    // The limit that stops it may be the instance's or that of its door or workload share.
    const hitMax = async () => {
      for (const dir of [pidsDir, path.join(pidsDir, 'door'), path.join(pidsDir, 'workload')]) {
        const events = await fs.readFile(path.join(dir, 'pids.events'), 'utf8').catch(() => '')
        if (/max [1-9]/.test(events)) return true
      }
      return false
    }
    await waitFor('the bomb to reach its pids limit', hitMax, { timeoutMs: 10_000, intervalMs: 10 })
    expect(Number(await fs.readFile(path.join(pidsDir, 'pids.current'), 'utf8'))).toBeLessThanOrEqual(64)
    expect((await runIn(env.driver, other, 'echo fine')).out).toContain('fine')
    await execFileP('/bin/true')
    await env.driver.stop(bomb.id, 100)
    await expectNoProcesses(bomb.hostUid)
  })

  it.skipIf(!isRoot)('OOM-kills a memory hog inside while the sandbox and host survive', async () => {
    const a = env.spec('oom', { memory_mb: 64 })
    const hog = 'a = []\nwhile True: a.append(bytearray(8 << 20))'
    const r = await runIn(env.driver, a, `python3 -c '${hog}'; echo "rc=$?"; echo alive`)
    expect(r.out).toContain('rc=137')
    expect(r.out).toContain('alive')
    expect(r.code).toBe(0)
    // When the payload itself is killed, inspect says why.
    await runIn(env.driver, a, `exec python3 -c '${hog}'`)
    expect((await env.driver.inspect(a.id)).reason).toMatch(/exit code 137\), out of memory/)
  })

  it('stops a disk filler at the quota', async (ctx) => {
    if (!caps.diskQuota) ctx.skip()
    const a = env.spec('disk', { disk_mb: 32 })
    const r = await runIn(
      env.driver,
      a,
      'dd if=/dev/zero of=/workspace/fill bs=1M count=100 2>&1; echo "rc=$?"',
    )
    expect(r.out).toMatch(/No space left on device/)
    expect(r.out).not.toContain('rc=0')
  })

  it('grows a disk when its size goes up, keeps its files, and never shrinks it', async (ctx) => {
    if (!caps.diskQuota) ctx.skip()
    const small = env.spec('grow', { disk_mb: 32 })
    const sizeOf = async (spec: typeof small) => {
      const r = await runIn(env.driver, spec, 'df -Pm /workspace | tail -1; cat /workspace/kept 2>/dev/null')
      const [line, kept] = r.out.trim().split('\n')
      return { totalMb: Number(line?.trim().split(/\s+/)[1]), kept }
    }
    await runIn(env.driver, small, 'echo still-here > /workspace/kept')
    const before = await sizeOf(small)
    expect(before.totalMb).toBeLessThanOrEqual(32)

    const bigger = { ...small, resources: { ...small.resources, disk_mb: 96 } }
    const after = await sizeOf(bigger)
    expect(after.totalMb).toBeGreaterThan(80)
    expect(after.kept).toBe('still-here')
    const fill = await runIn(
      env.driver,
      bigger,
      'dd if=/dev/zero of=/workspace/f bs=1M count=60 2>&1; echo "rc=$?"',
    )
    expect(fill.out).toContain('rc=0')

    // Back to a smaller plan: the disk and what is on it stay.
    const again = await sizeOf(small)
    expect(again.totalMb).toBeGreaterThan(80)
    expect(again.kept).toBe('still-here')
  })

  it('stop leaves no process behind, even one that ignores SIGTERM; stop is idempotent', async () => {
    const a = env.spec('stop')
    await env.driver.launch(a, ['/bin/sh', '-c', "trap '' TERM; sleep 1000 & sleep 1000 & wait"])
    expect((await env.driver.inspect(a.id)).running).toBe(true)
    await env.driver.stop(a.id, 300)
    expect(await env.driver.inspect(a.id)).toEqual({ running: false, reason: 'stopped' })
    if (isRoot) await expectNoProcesses(a.hostUid)
    await env.driver.stop(a.id)
    await env.driver.stop('never-started')
  })

  it('keeps a sandbox running after the process that started it exits, without its inherited fds', async () => {
    const a = env.spec('detached')
    const script = `
      const { LocalDriver } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist/drivers/local/local-driver.js'))})
      const { createLogger } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist/log.js'))})
      const [config, spec] = process.argv.slice(-2).map((s) => JSON.parse(s))
      const payload = ['/bin/sh', '-c', 'ls /proc/self/fd > /run/clawport/fds.tmp && mv /run/clawport/fds.tmp /run/clawport/fds; exec sleep 300']
      const d = new LocalDriver(config, createLogger('silent'), { payload })
      await d.start(spec)`
    // fd 7 is opened without close-on-exec, as a supervisor might leave one: it must not leak in.
    await execFileP(
      '/bin/bash',
      [
        '-c',
        'exec 7</etc/hostname; exec "$@"',
        'starter',
        process.execPath,
        '--input-type=module',
        '-e',
        script,
        JSON.stringify(env.config),
        JSON.stringify(a),
      ],
      { timeout: 20_000 },
    )
    const state = await env.driver.inspect(a.id)
    expect(state.running).toBe(true)
    expect(readFileSync(`/proc/${state.pid}/cmdline`, 'utf8')).toContain('bwrap')
    const fdsFile = path.join(env.driver.layout(a.id).run, 'fds')
    await waitFor('the payload to list its fds', () => existsSync(fdsFile), {
      timeoutMs: 5000,
      intervalMs: 10,
    })
    // 3 is the directory ls is reading; 6 the clawlet's socket, handed in on purpose.
    expect(readFileSync(fdsFile, 'utf8').trim().split('\n')).toEqual(['0', '1', '2', '3', '6'])
    await env.driver.stop(a.id, 100)
    expect((await env.driver.inspect(a.id)).running).toBe(false)
    if (isRoot) await expectNoProcesses(a.hostUid)
  })

  it('starts the real clawlet and answers through its socket', async (ctx) => {
    if (!existsSync(path.join(REPO_ROOT, 'dist/clawlet/main.js'))) ctx.skip()
    const { ClawletClient, waitForHealth } = await import('../src/door/clawlet/client.js')
    const a = env.spec('clawlet')
    const endpoint = await env.driver.start(a)
    expect(endpoint.unix).toBe(path.join(env.config.dataDir, 'instances', a.id, 'state', 'clawlet.sock'))
    const client = new ClawletClient({ transport: endpoint, label: a.id })
    await waitForHealth(client, 15_000)
    const res = await client.exec({ command: 'id -u; pwd; echo $HOME' })
    expect(res.stdout.trim().split('\n')).toEqual(['1000', '/workspace', '/home/claw'])
    await env.driver.stop(a.id)
    expect(await env.driver.inspect(a.id)).toEqual({ running: false, reason: 'stopped' })
  })

  it('destroy leaves no cgroup, mount, folder or process; it is idempotent', async () => {
    const a = env.spec('destroy')
    await env.driver.launch(a, ['/bin/sleep', '300'])
    const root = path.join(env.config.dataDir, 'instances', a.id)
    await env.driver.destroy(a.id)
    expect(existsSync(root)).toBe(false)
    expect(await mountsUnder(root)).toEqual([])
    for (const c of ['memory', 'pids', 'cpu', ''])
      expect(existsSync(`/sys/fs/cgroup/${c}/clawport/${a.id}`)).toBe(false)
    if (isRoot) await expectNoProcesses(a.hostUid)
    await env.driver.destroy(a.id)
  })
})
