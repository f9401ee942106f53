import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { ClawletClient } from '../src/door/clawlet/client.js'
import { LocalDriver } from '../src/drivers/local/local-driver.js'
import { createLogger } from '../src/log.js'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'

const isRoot = process.getuid?.() === 0

/** Every descriptor of every process in pid namespace `ns` (as `pid:[...]`), with its target. */
function descriptorsIn(ns: string): Array<{ pid: number; target: string }> {
  const out: Array<{ pid: number; target: string }> = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (fs.readlinkSync(`/proc/${name}/ns/pid`) !== ns) continue
      for (const fd of fs.readdirSync(`/proc/${name}/fd`))
        out.push({ pid: Number(name), target: fs.readlinkSync(`/proc/${name}/fd/${fd}`) })
    } catch {
      // The process left while we looked.
    }
  }
  return out
}

/**
 * The attacks of a hostile instance on the host and on other tenants, run from inside real
 * sandboxes against the real server: whatever an instance does to its own folders, the server
 * keeps talking to that instance only, never changes a host file for it, and hands it nothing
 * of the host's.
 */
describe('a hostile instance', () => {
  let s: TestServer
  let a: string
  let b: string
  let driver: LocalDriver
  let hostUidOf: (id: string) => number
  const targets: string[] = []

  beforeAll(async () => {
    s = await startServer(TEST_ENV)
    ;[a, b] = (await Promise.all([
      s.readyInstance().then((i) => i.id),
      s.readyInstance().then((i) => i.id),
    ])) as [string, string]
    await s.exec(a, 'echo only-in-a > /workspace/marker-a.txt')
    await s.exec(b, 'echo only-in-b > /workspace/marker-b.txt')
    const config = loadConfig({ ...TEST_ENV, CLAWPORT_DATA_DIR: s.dataDir })
    driver = new LocalDriver(config, createLogger('silent'))
    await driver.init()
    hostUidOf = (id) => {
      const rec = JSON.parse(
        fs.readFileSync(path.join(s.dataDir, 'instances', id, 'state', 'sandbox.json'), 'utf8'),
      )
      return rec.hostUid ?? process.getuid?.()
    }
  }, 180_000)
  afterAll(async () => {
    for (const t of targets) fs.rmSync(t, { force: true })
    await s?.destroy()
  })

  it('cannot redirect the server to another instance by swapping its socket', async () => {
    const bRoot = `../../../${b}`
    // Every name the server ever used or uses now, swapped for a link to B's, plus a listener of
    // A's own where the clawlet's socket used to be.
    const swap = await s.exec(
      a,
      `cd /run/clawport
       for n in clawlet.sock control.sock; do
         ln -sfn ${bRoot}/run/$n x && mv -f x $n
         ln -sfn ${bRoot}/state/$n y && mv -f y state-$n
       done
       ln -sfn ${bRoot}/door/control.sock /run/clawport-door/control.sock 2>/dev/null && echo door-writable
       touch /run/clawport-door/x 2>/dev/null && echo door-writable
       ls -l /run/clawport`,
    )
    expect(swap.stdout).not.toContain('door-writable')
    expect(swap.stdout).toContain('clawlet.sock ->')
    const stillA = async () => {
      const mine = await s.exec(a, 'cat /workspace/marker-*.txt; hostname')
      expect(mine.stdout).toContain('only-in-a')
      expect(mine.stdout).not.toContain('only-in-b')
    }
    await stillA()
    // A listener of A's own on the clawlet's old path, counting who connects.
    await s.exec(
      a,
      `rm -f /run/clawport/clawlet.sock; nohup python3 -c '
import socket, os
s = socket.socket(socket.AF_UNIX); s.bind("/run/clawport/clawlet.sock"); s.listen(8)
while True:
    c, _ = s.accept(); open("/run/clawport/fake-hits", "a").write("hit\\n"); c.close()
' >/dev/null 2>&1 &
       sleep 0.3; ls /run/clawport`,
    )
    await stillA()
    // The server restarts A's sandbox and reopens its door: still A, never B.
    expect((await s.api('POST', `/api/instances/${a}/reboot`)).status).toBeLessThan(300)
    await s.waitStatus(a, 'ready')
    await stillA()
    const read = await s.api('GET', `/api/instances/${a}/files/read?path=marker-b.txt`)
    expect(read.status).toBe(404)
    const file = await s.api('GET', `/api/instances/${a}/files/read?path=marker-a.txt`)
    expect(file.body.content).toContain('only-in-a')
    // A's own listener (if it survived the reboot) never saw the server.
    expect((await s.exec(a, 'cat /run/clawport/fake-hits 2>/dev/null | wc -l')).stdout.trim()).toBe('0')
  })

  it("refuses a clawlet that is not the instance's own, on every connection", async () => {
    // A's expected peer against B's real clawlet: the uid and pid namespace differ.
    const ea = driver.unixEndpoint(a)
    const eb = driver.unixEndpoint(b)
    const wrong = new ClawletClient({ transport: { unix: eb.unix, checkPeer: ea.checkPeer }, label: a })
    await expect(wrong.exec({ command: 'cat /workspace/marker-b.txt' })).rejects.toMatchObject({
      code: 'instance_unavailable',
    })
    wrong.close()
    const right = new ClawletClient({ transport: ea, label: a })
    expect((await right.exec({ command: 'cat /workspace/marker-a.txt' })).stdout).toContain('only-in-a')
    right.close()
    // The sockets the server uses are in folders only root can write, outside every bind.
    for (const p of [path.dirname(ea.unix), path.dirname(driver.controlPath(a))]) {
      const st = fs.lstatSync(p)
      expect(st.isDirectory()).toBe(true)
      if (isRoot) expect(st.uid).toBe(0)
      expect(st.mode & 0o022).toBe(0)
    }
  })

  it.skipIf(!isRoot)("answers on an instance's control socket only its own uid", async () => {
    const controlPath = driver.controlPath(a)
    // Root is not the instance: the kernel's account of the peer is checked, not only the mode.
    const answer = await new Promise<string>((resolve) => {
      const c = net.connect(controlPath, () => c.write('GET /api/self HTTP/1.1\r\nHost: x\r\n\r\n'))
      let got = ''
      c.on('data', (d) => {
        got += d
      })
      c.on('close', () => resolve(got))
      c.on('error', () => resolve(got))
    })
    expect(answer).toBe('')
    // From inside, through the same socket, the instance is itself.
    const self = await s.exec(a, 'curl -s "$CLAWPORT_API_URL/self"')
    expect(self.stdout).toContain(a)
  })

  it.skipIf(!isRoot)(
    'cannot make the server chown, chmod or write a host file through links in its folders',
    async () => {
      // Host files the attack aims at, with an owner and mode that must not change.
      const mk = (name: string) => {
        const f = path.join(os.tmpdir(), `clawport-target-${name}-${process.pid}`)
        fs.writeFileSync(f, 'host file\n', { mode: 0o644 })
        targets.push(f)
        return f
      }
      const tLog = mk('log')
      const tControl = mk('control')
      const tClawlet = mk('clawlet')
      // Links planted where the server looks as root (as if raced in at a server start), and a FIFO
      // where it opens a file: a blocking open would hang the start forever.
      await s.exec(
        a,
        `cd /run/clawport
       ln -sfn ${tLog} sandbox.log; ln -sfn ${tControl} control.sock; ln -sfn ${tClawlet} clawlet.sock
       ln -sfn ${tLog} /home/claw/.x; ls -l`,
      )
      expect((await s.api('POST', `/api/instances/${a}/reboot`)).status).toBeLessThan(300)
      await s.waitStatus(a, 'ready')
      await s.exec(a, 'rm -f /run/clawport/sandbox.log; mkfifo /run/clawport/sandbox.log')
      expect((await s.api('POST', `/api/instances/${a}/reboot`)).status).toBeLessThan(300)
      await s.waitStatus(a, 'ready')
      for (const t of [tLog, tControl, tClawlet]) {
        const st = fs.statSync(t)
        expect(st.uid).toBe(0)
        expect(st.mode & 0o777).toBe(0o644)
        expect(fs.readFileSync(t, 'utf8')).toBe('host file\n')
      }
      // The log is a plain file of the instance's, on its own disk.
      const log = fs.lstatSync(driver.logPath(a))
      expect(log.isFile()).toBe(true)
      expect(log.uid).toBe(hostUidOf(a))
      expect(driver.logPath(a).startsWith(path.join(s.dataDir, 'instances', a, 'disk'))).toBe(true)
    },
  )

  it.skipIf(!isRoot)(
    "holds no host file of the server's and cannot take one from another process",
    async () => {
      await s.exec(a, 'nohup sleep 300 >/dev/null 2>&1 &')
      const disk = path.join(s.dataDir, 'instances', a, 'disk')
      // Inside the sandbox's pid namespace (the monitor outside it holds bwrap's status file).
      const rec = JSON.parse(
        fs.readFileSync(path.join(s.dataDir, 'instances', a, 'state', 'sandbox.json'), 'utf8'),
      )
      const files = descriptorsIn(fs.readlinkSync(`/proc/${rec.childPid}/ns/pid`)).filter((d) =>
        d.target.startsWith('/'),
      )
      expect(files.length).toBeGreaterThan(0)
      for (const d of files) {
        // Paths opened inside read as the sandbox sees them; one of the host's (a descriptor handed
        // in at launch) names the host path, and must then be on the instance's own disk.
        const fine = !d.target.startsWith(s.dataDir) || d.target.startsWith(`${disk}/`)
        expect(fine, `${d.pid} holds ${d.target}`).toBe(true)
      }
      // pidfd_getfd would copy the clawlet's descriptors (its socket, its log) into the workload.
      const steal = await s.exec(
        a,
        `python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
pid = next(int(p) for p in os.listdir("/proc") if p.isdigit() and b"clawlet/main.js" in open(f"/proc/{p}/cmdline", "rb").read())
fd = os.pidfd_open(pid)
print("got", libc.syscall(438, fd, 1, 0), ctypes.get_errno())'`,
      )
      expect(steal.stdout).toMatch(/got -1 1\b/)
    },
  )

  it('cannot hold more open files per process than the limit', async () => {
    const r = await s.exec(
      a,
      `ulimit -Hn; ulimit -n 100000 2>/dev/null && echo raised; python3 -c '
fs = []
try:
    while len(fs) < 200000: fs.append(open("/dev/null"))
except OSError as e: print("stopped", len(fs), e.errno)'`,
    )
    const [hard] = r.stdout.trim().split('\n')
    expect(Number(hard)).toBe(4096)
    expect(r.stdout).not.toContain('raised')
    const stopped = Number(/stopped (\d+) 24/.exec(r.stdout)?.[1])
    expect(stopped).toBeGreaterThan(4000)
    expect(stopped).toBeLessThanOrEqual(4096)
  })
})
