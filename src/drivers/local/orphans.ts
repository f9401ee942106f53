import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { registeredDataFolders } from './host-registry.js'

const run = promisify(execFile)
const CGROUP_ROOT = '/sys/fs/cgroup'
const PARENT = 'clawport'
const ID = '[A-Za-z0-9][A-Za-z0-9_-]{0,63}'
const DISK_MOUNT = new RegExp(`^(.+)/instances/(${ID})/disk$`)
const DISK_IMAGE = new RegExp(`^(.+)/instances/(${ID})/disk\\.img( \\(deleted\\))?$`)

/** Something of an instance left on this host that no data folder knows. */
export type Orphan =
  | { kind: 'cgroup'; id: string; path: string; pids: number[] }
  | { kind: 'mount'; id: string; path: string }
  | { kind: 'loop'; id: string; device: string; backingFile: string }
  | { kind: 'process'; id: string; pid: number; command: string }

/** Instance ids each live registered data folder holds. */
function knownInstances(registry?: string): Map<string, Set<string>> {
  const known = new Map<string, Set<string>>()
  for (const { dataDir } of registeredDataFolders(registry)) {
    const dir = path.join(dataDir, 'instances')
    if (!existsSync(dir)) continue
    // A folder deleted while its disks were mounted keeps `instances/<id>/disk` (busy): an
    // instance is known only while its root-owned state or its disk image is still there.
    const ids = readdirSync(dir).filter(
      (id) => existsSync(path.join(dir, id, 'state')) || existsSync(path.join(dir, id, 'disk.img')),
    )
    known.set(dataDir, new Set(ids))
  }
  return known
}

function knownAnywhere(known: Map<string, Set<string>>, id: string): boolean {
  for (const ids of known.values()) if (ids.has(id)) return true
  return false
}

/** The instance cgroup folders: one per controller on v1, one on v2. */
function instanceCgroups(root: string): Array<{ id: string; path: string }> {
  const parents = existsSync(path.join(root, 'cgroup.controllers'))
    ? [path.join(root, PARENT)]
    : readdirSync(root).map((c) => path.join(root, c, PARENT))
  const out: Array<{ id: string; path: string }> = []
  for (const parent of parents) {
    if (!existsSync(parent) || !statSync(parent).isDirectory()) continue
    for (const e of readdirSync(parent, { withFileTypes: true }))
      if (e.isDirectory() && new RegExp(`^${ID}$`).test(e.name))
        out.push({ id: e.name, path: path.join(parent, e.name) })
  }
  return out
}

/** Every pid in a cgroup and the cgroups below it. */
function subtreePids(dir: string): number[] {
  const pids: number[] = []
  const text = existsSync(path.join(dir, 'cgroup.procs'))
    ? readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')
    : ''
  for (const line of text.split('\n')) if (line.trim()) pids.push(Number(line))
  for (const e of readdirSync(dir, { withFileTypes: true }))
    if (e.isDirectory()) pids.push(...subtreePids(path.join(dir, e.name)))
  return pids
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)))
}

function netns(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`)
  } catch {
    return null
  }
}

/**
 * Cgroups, disk mounts, loop devices and processes of instances that no registered data folder
 * holds (its folder was deleted, or its server never ran on this boot). Read-only.
 */
export async function findOrphans(o: { cgroupRoot?: string; registry?: string } = {}): Promise<Orphan[]> {
  const known = knownInstances(o.registry)
  const out: Orphan[] = []
  const cgroupRoot = o.cgroupRoot ?? CGROUP_ROOT
  const orphanPids = new Map<number, string>()
  if (existsSync(cgroupRoot)) {
    for (const cg of instanceCgroups(cgroupRoot)) {
      if (knownAnywhere(known, cg.id)) continue
      const pids = subtreePids(cg.path)
      for (const pid of pids) orphanPids.set(pid, cg.id)
      out.push({ kind: 'cgroup', id: cg.id, path: cg.path, pids })
    }
  }
  const sameFolder = (dataDir: string, id: string) => known.get(dataDir)?.has(id) === true
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4]
    const m = mountPoint ? DISK_MOUNT.exec(unescapeMount(mountPoint)) : null
    if (!m) continue
    const [where, dataDir, id] = m as unknown as [string, string, string]
    if (!sameFolder(dataDir, id)) out.push({ kind: 'mount', id, path: where })
  }
  for (const dev of existsSync('/sys/block') ? readdirSync('/sys/block') : []) {
    const file = path.join('/sys/block', dev, 'loop', 'backing_file')
    if (!dev.startsWith('loop') || !existsSync(file)) continue
    const backingFile = readFileSync(file, 'utf8').trim()
    const m = DISK_IMAGE.exec(backingFile)
    if (!m) continue
    // A deleted image alone says nothing: a live server deletes it first when it removes one.
    const [, dataDir, id] = m as unknown as [string, string, string]
    if (!sameFolder(dataDir, id)) out.push({ kind: 'loop', id, device: `/dev/${dev}`, backingFile })
  }
  // Network helpers run on the host's behalf outside the instance's cgroup: slirp4netns names
  // the sandbox's pid on its command line; the keeper and resolver share its network namespace.
  const orphanNets = new Map<string, string>()
  const hostNet = netns(process.pid)
  for (const [pid, id] of orphanPids) {
    const ns = netns(pid)
    if (ns && ns !== hostNet) orphanNets.set(ns, id)
  }
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    if (orphanPids.has(pid)) continue
    const ns = netns(pid)
    let id = ns ? orphanNets.get(ns) : undefined
    const command = (await fs.readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim()
    if (!id && command === 'slirp4netns') {
      const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
      const target = /\/proc\/(\d+)\/ns\/net/.exec(cmdline)
      id = target ? orphanPids.get(Number(target[1])) : undefined
    }
    if (id) out.push({ kind: 'process', id, pid, command })
  }
  return out
}

/** One line per orphan, for people. */
export function describeOrphan(o: Orphan): string {
  switch (o.kind) {
    case 'cgroup':
      return `cgroup   ${o.path} (instance ${o.id}, ${o.pids.length} processes)`
    case 'mount':
      return `mount    ${o.path} (instance ${o.id})`
    case 'loop':
      return `loop     ${o.device} -> ${o.backingFile} (instance ${o.id})`
    case 'process':
      return `process  ${o.pid} ${o.command} (network of instance ${o.id})`
  }
}

/** Thaws a cgroup and those below it: a frozen process takes no SIGKILL (v1 freezer, v2 cgroup.freeze). */
async function thawSubtree(dir: string): Promise<void> {
  if (!existsSync(dir)) return
  await fs.writeFile(path.join(dir, 'freezer.state'), 'THAWED').catch(() => {})
  await fs.writeFile(path.join(dir, 'cgroup.freeze'), '0').catch(() => {})
  for (const e of readdirSync(dir, { withFileTypes: true }))
    if (e.isDirectory()) await thawSubtree(path.join(dir, e.name))
}

async function killSubtree(dir: string, timeoutMs = 5000): Promise<void> {
  await thawSubtree(dir)
  const kill = path.join(dir, 'cgroup.kill')
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const pids = existsSync(dir) ? subtreePids(dir) : []
    if (pids.length === 0) return
    if (existsSync(kill)) await fs.writeFile(kill, '1').catch(() => {})
    // A fork between reading the list and signalling adds pids: loop until empty.
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
    if (Date.now() > deadline) throw new Error(`processes remain in ${dir}: ${pids.join(' ')}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function removeCgroup(dir: string): Promise<void> {
  if (!existsSync(dir)) return
  for (const e of readdirSync(dir, { withFileTypes: true }))
    if (e.isDirectory()) await removeCgroup(path.join(dir, e.name))
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.rmdir(dir)
      return
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return
      if (code !== 'EBUSY' || attempt >= 50) throw err
      await new Promise((r) => setTimeout(r, 20))
    }
  }
}

/**
 * Removes what `findOrphans` found: processes first (a sandbox holds its disk busy), then
 * cgroups, mounts (lazily) and loop devices. Returns what could not be removed, with why.
 */
export async function cleanOrphans(orphans: Orphan[]): Promise<Array<{ orphan: Orphan; error: string }>> {
  const failed: Array<{ orphan: Orphan; error: string }> = []
  const attempt = async (orphan: Orphan, f: () => Promise<unknown>) => {
    try {
      await f()
    } catch (err) {
      failed.push({ orphan, error: (err as Error).message.split('\n')[0] ?? String(err) })
    }
  }
  for (const o of orphans) if (o.kind === 'cgroup') await attempt(o, () => killSubtree(o.path))
  for (const o of orphans)
    if (o.kind === 'process')
      await attempt(o, async () => {
        try {
          process.kill(o.pid, 'SIGKILL')
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
        }
      })
  for (const o of orphans) if (o.kind === 'cgroup') await attempt(o, () => removeCgroup(o.path))
  for (const o of orphans) if (o.kind === 'mount') await attempt(o, () => run('umount', ['-l', o.path]))
  for (const o of orphans)
    if (o.kind === 'loop')
      await attempt(o, async () => {
        // A lazily unmounted disk frees its loop device by itself once the last user is gone.
        if (!existsSync(path.join('/sys/block', path.basename(o.device), 'loop'))) return
        await run('losetup', ['-d', o.device]).catch((err: Error) => {
          if (existsSync(path.join('/sys/block', path.basename(o.device), 'loop', 'backing_file'))) throw err
        })
      })
  return failed
}
