import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startInternet, type TestInternet } from './helpers/internet.js'
import { TEST_ENV } from './helpers/plans.js'
import { REPO, startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

const execFileP = promisify(execFile)
const BIN = path.join(REPO, 'bin/clawport.js')

async function doctorOrphans(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await execFileP(process.execPath, [BIN, 'doctor', '--orphans', ...args])
    return { code: 0, out: stdout }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, out: e.stdout + e.stderr }
  }
}

/** What of instance `id` is on this host: cgroup folders, disk mounts, loop devices. */
function leftOf(id: string): { cgroups: string[]; mounts: string[]; loops: string[] } {
  const cgroups: string[] = []
  for (const c of readdirSync('/sys/fs/cgroup')) {
    const d = existsSync('/sys/fs/cgroup/cgroup.controllers')
      ? `/sys/fs/cgroup/clawport/${id}`
      : `/sys/fs/cgroup/${c}/clawport/${id}`
    if (existsSync(d) && !cgroups.includes(d)) cgroups.push(d)
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.includes(`/instances/${id}/`))
  const loops = readdirSync('/sys/block')
    .filter((d) => d.startsWith('loop') && existsSync(`/sys/block/${d}/loop/backing_file`))
    .filter((d) => readFileSync(`/sys/block/${d}/loop/backing_file`, 'utf8').includes(`/instances/${id}/`))
  return { cgroups, mounts, loops }
}

describe('doctor --orphans', () => {
  let s: TestServer
  let inet: TestInternet
  let id = ''
  /** An instance with an allowlist network: slirp4netns, a keeper and a resolver on the host. */
  let netId = ''
  beforeAll(async () => {
    inet = await startInternet('o')
    s = await startServer({ ...TEST_ENV, CLAWPORT_NETWORK_DNS: inet.ip })
    id = (await s.readyInstance()).id
    const key = await s.user('net@example.com', 'net')
    netId = (await s.readyInstance(key, { network: 'allowlist', allowed_hosts: ['pkg.test'] })).id
  })
  afterAll(async () => {
    await s?.destroy()
    inet?.stop()
  })

  it('finds nothing of a data folder that exists, even with its server stopped', async () => {
    await s.stop()
    const r = await doctorOrphans()
    expect(r.out).not.toContain(id)
    await s.start()
    expect((await s.exec(id, 'echo alive')).stdout).toBe('alive\n')
  })

  it('lists what a deleted data folder left running, and --clean removes all of it', async () => {
    const before = leftOf(id)
    expect(before.cgroups.length).toBeGreaterThan(0)
    expect(before.mounts.length).toBeGreaterThan(0)
    await s.kill9()
    // An operator deletes the folder while its instances run: the disk's mount point stays
    // (busy), everything else goes.
    await fs.rm(s.dataDir, { recursive: true, force: true }).catch(() => {})

    const listed = await doctorOrphans()
    expect(listed.code).toBe(1)
    expect(listed.out).toContain(`cgroup   ${before.cgroups[0]} (instance ${id}`)
    expect(listed.out).toMatch(new RegExp(`mount +\\S+/instances/${id}/disk`))
    expect(listed.out).toMatch(new RegExp(`loop +/dev/loop\\d+ -> \\S+/instances/${id}/disk.img`))
    for (const helper of ['slirp4netns', 'dnsmasq', 'bash'])
      expect(listed.out).toMatch(new RegExp(`process +\\d+ ${helper} \\(network of instance ${netId}\\)`))
    expect(listed.out).toContain('--clean')
    // Listing changes nothing.
    expect(leftOf(id).cgroups).toEqual(before.cgroups)

    const cleaned = await doctorOrphans('--clean')
    expect(cleaned.out).toContain('none remain')
    expect(cleaned.code).toBe(0)
    // Loop devices free themselves once their lazily unmounted disk has no user left.
    await waitFor(
      'the loop devices to free themselves',
      () => !leftOf(id).loops.length && !leftOf(netId).loops.length,
      {
        timeoutMs: 10_000,
        intervalMs: 50,
      },
    )
    for (const gone of [id, netId]) expect(leftOf(gone)).toEqual({ cgroups: [], mounts: [], loops: [] })
    const after = (await doctorOrphans()).out
    expect(after).not.toContain(id)
    expect(after).not.toContain(netId)
  })

  it('needs root and says so', async () => {
    const r = await execFileP(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'doctor', '--orphans'],
      {
        cwd: '/',
      },
    ).catch((e) => e as { code: number; stderr: string })
    expect((r as { code: number }).code).toBe(2)
    expect((r as { stderr: string }).stderr).toContain('needs root')
  })
})
