import { existsSync, realpathSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { InstanceResources } from '../driver.js'
import { freezeAndKill } from './cgroup-kill.js'

export const CGROUP_ROOT = '/sys/fs/cgroup'
const PARENT = 'clawport'
const V1_CONTROLLERS = ['memory', 'pids', 'cpu'] as const
/** Mounted on most v1 hosts; without it a runaway workload is killed by signalling in a loop. */
const V1_FREEZER = 'freezer'
const CPU_PERIOD_US = 100_000
/**
 * The instances' parent weighs a quarter of the control plane's (v1 shares against a root task's
 * 1024, v2 weight against a sibling's default 100): under contention the host comes first.
 */
const PARENT_CPU_SHARES = 256
const PARENT_CPU_WEIGHT = 25
/** Inside an instance the door outweighs the workload four to one when both want CPU. */
const DOOR_CPU = { shares: 1024, weight: 100 }
const WORKLOAD_CPU = { shares: 256, weight: 25 }

/** The two children of every instance cgroup: the clawlet and desktop, and the user's processes. */
export type CgroupChild = 'door' | 'workload'

export type CgroupVersion = 'v1' | 'v2' | 'none'

/** Which cgroup hierarchy this host has, and whether we may write to it. */
export async function detectCgroup(root = CGROUP_ROOT): Promise<{ version: CgroupVersion; note?: string }> {
  if (process.getuid?.() !== 0)
    return { version: 'none', note: 'not root: no cgroup limits (memory, cpu, pids)' }
  if (existsSync(path.join(root, 'cgroup.controllers'))) {
    const have = (await fs.readFile(path.join(root, 'cgroup.controllers'), 'utf8')).split(/\s+/)
    const missing = ['memory', 'pids', 'cpu'].filter((c) => !have.includes(c))
    if (missing.length) return { version: 'none', note: `cgroup v2 lacks controllers: ${missing.join(', ')}` }
    return { version: 'v2' }
  }
  const missing = V1_CONTROLLERS.filter((c) => !existsSync(path.join(root, c, 'cgroup.procs')))
  if (missing.length === V1_CONTROLLERS.length)
    return { version: 'none', note: 'no cgroup hierarchy mounted' }
  if (missing.length) return { version: 'none', note: `cgroup v1 lacks controllers: ${missing.join(', ')}` }
  if (!existsSync(path.join(root, V1_FREEZER, 'cgroup.procs')))
    return {
      version: 'v1',
      note: 'no cgroup v1 freezer: a runaway workload is killed without freezing it first',
    }
  return { version: 'v1' }
}

/** Counts each instance's CPU time where it is mounted apart from cpu (not a link to cpu,cpuacct). */
const V1_CPUACCT = 'cpuacct'

/** The v1 hierarchies instances use on this host (the freezer and a separate cpuacct when mounted). */
function v1Hierarchies(root: string): string[] {
  const known = hierarchies.get(root)
  if (known) return known
  const all: string[] = [...V1_CONTROLLERS]
  if (existsSync(path.join(root, V1_FREEZER, 'cgroup.procs'))) all.push(V1_FREEZER)
  const acct = path.join(root, V1_CPUACCT)
  if (
    existsSync(path.join(acct, 'cgroup.procs')) &&
    realpathSync(acct) !== realpathSync(path.join(root, 'cpu'))
  )
    all.push(V1_CPUACCT)
  // Mounts do not change while the server runs; a host without a hierarchy is not cached.
  if (existsSync(path.join(root, 'pids', 'cgroup.procs'))) hierarchies.set(root, all)
  return all
}
const hierarchies = new Map<string, string[]>()

/** The most CPU any instance, and all of them together, may use: the host's cores less the reserve. */
export function cpuCap(cores: number, reserve: number): number {
  return Math.max(0.1, cores - reserve)
}

/**
 * Creates the shared parent cgroup(s) once, so a host where that is not allowed (a v2 root
 * that is really a container's cgroup holding processes, a read-only mount) is found at start.
 * The parent gets a low CPU weight and, together, at most `capCores` of CPU.
 */
export async function prepareCgroupParent(
  version: CgroupVersion,
  capCores: number,
  root = CGROUP_ROOT,
): Promise<string | null> {
  const quotaUs = String(Math.round(capCores * CPU_PERIOD_US))
  try {
    if (version === 'v2') {
      const parent = path.join(root, PARENT)
      await fs.mkdir(parent, { recursive: true })
      await enableControllers(root)
      await enableControllers(parent)
      await fs.writeFile(path.join(parent, 'cpu.weight'), String(PARENT_CPU_WEIGHT))
      await fs.writeFile(path.join(parent, 'cpu.max'), `${quotaUs} ${CPU_PERIOD_US}`)
    } else if (version === 'v1') {
      for (const c of v1Hierarchies(root)) await fs.mkdir(path.join(root, c, PARENT), { recursive: true })
      const cpu = path.join(root, 'cpu', PARENT)
      await fs.writeFile(path.join(cpu, 'cpu.shares'), String(PARENT_CPU_SHARES))
      await fs.writeFile(path.join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US))
      await fs.writeFile(path.join(cpu, 'cpu.cfs_quota_us'), quotaUs)
    }
    return null
  } catch (err) {
    return `cgroup ${version} not writable (${(err as Error).message}): no memory, cpu or pids limits`
  }
}

/** What the door keeps of an instance's processes and memory, whatever its workload does. */
export function doorReserve(r: InstanceResources): { pids: number; memoryMb: number } {
  return {
    pids: Math.min(128, Math.max(24, Math.round(r.pids_max / 4))),
    memoryMb: Math.min(256, Math.max(64, Math.round(r.memory_mb / 4))),
  }
}

/** What the workload may use: the instance's limits less the door's reserve. */
export function workloadLimits(r: InstanceResources): { pids: number; memoryBytes: number } {
  const door = doorReserve(r)
  return {
    pids: Math.max(8, r.pids_max - door.pids),
    memoryBytes: Math.max(16, r.memory_mb - door.memoryMb) * 1024 * 1024,
  }
}

/**
 * The cgroups of one instance, on whichever hierarchy the host has: the instance's own (its
 * plan's limits) with two children, `door` (the clawlet and desktop, where the sandbox starts)
 * and `workload` (commands, terminals, the gateway: the instance's limits less the door's reserve).
 */
export class InstanceCgroup {
  constructor(
    readonly version: CgroupVersion,
    readonly id: string,
    readonly root = CGROUP_ROOT,
  ) {}

  /** One directory on v2, one per hierarchy on v1, none without cgroups. */
  dirs(): string[] {
    if (this.version === 'v2') return [path.join(this.root, PARENT, this.id)]
    if (this.version === 'v1')
      return v1Hierarchies(this.root).map((c) => path.join(this.root, c, PARENT, this.id))
    return []
  }

  /** The directory of one hierarchy (v1: memory, pids, cpu, freezer; v2: the one). */
  dir(controller: string): string | undefined {
    if (this.version === 'v2') return path.join(this.root, PARENT, this.id)
    if (this.version === 'v1' && existsSync(path.join(this.root, controller)))
      return path.join(this.root, controller, PARENT, this.id)
    return undefined
  }

  childDirs(child: CgroupChild): string[] {
    return this.dirs().map((d) => path.join(d, child))
  }

  /** The files a process writes its pid into to join `child` (every hierarchy on v1). */
  procsFiles(child: CgroupChild): string[] {
    return this.childDirs(child).map((d) => path.join(d, 'cgroup.procs'))
  }

  /** The workload's procs files, each with a name to bind it under inside the sandbox. */
  workloadBinds(): Array<{ name: string; file: string }> {
    return this.procsFiles('workload').map((file) => ({
      name:
        this.version === 'v2'
          ? 'unified'
          : path.basename(path.dirname(path.dirname(path.dirname(path.dirname(file))))),
      file,
    }))
  }

  /**
   * Creates the cgroups and writes the limits; safe to call again with new limits. The
   * workload's procs files become the instance uid's, so the clawlet can place what it starts
   * there; nothing else of the instance's cgroups is writable to it.
   */
  async apply(r: InstanceResources, o: { cpuCapCores: number; hostUid: number | null }): Promise<void> {
    if (this.version === 'none') return
    const cpus = Math.min(r.cpus, o.cpuCapCores)
    const quotaUs = String(Math.max(1000, Math.round(cpus * CPU_PERIOD_US)))
    const work = workloadLimits(r)
    if (this.version === 'v2') {
      const parent = path.join(this.root, PARENT)
      await fs.mkdir(parent, { recursive: true })
      // Controllers must be enabled in every ancestor's subtree_control to reach the leaves.
      await enableControllers(this.root)
      await enableControllers(parent)
      const dir = path.join(parent, this.id)
      await fs.mkdir(dir, { recursive: true })
      await writeMemoryV2(dir, r.memory_mb * 1024 * 1024)
      await fs.writeFile(path.join(dir, 'pids.max'), String(r.pids_max))
      await fs.writeFile(path.join(dir, 'cpu.max'), `${quotaUs} ${CPU_PERIOD_US}`)
      await enableControllers(dir)
      for (const child of ['door', 'workload'] as const)
        await fs.mkdir(path.join(dir, child), { recursive: true })
      const w = path.join(dir, 'workload')
      await writeMemoryV2(w, work.memoryBytes)
      await fs.writeFile(path.join(w, 'pids.max'), String(work.pids))
      await fs.writeFile(path.join(dir, 'door', 'cpu.weight'), String(DOOR_CPU.weight))
      await fs.writeFile(path.join(w, 'cpu.weight'), String(WORKLOAD_CPU.weight))
      // v2 moves a process only for a writer who may write the procs file of the common
      // ancestor too; the instance's own holds no process (its children have controllers).
      if (o.hostUid !== null) await fs.chown(path.join(dir, 'cgroup.procs'), o.hostUid, o.hostUid)
    } else {
      for (const d of this.dirs())
        for (const child of ['', 'door', 'workload']) await fs.mkdir(path.join(d, child), { recursive: true })
      const mem = this.dir('memory') as string
      await writeMemoryV1(mem, r.memory_mb * 1024 * 1024)
      await writeMemoryV1(path.join(mem, 'workload'), work.memoryBytes)
      const pids = this.dir('pids') as string
      await fs.writeFile(path.join(pids, 'pids.max'), String(r.pids_max))
      await fs.writeFile(path.join(pids, 'workload', 'pids.max'), String(work.pids))
      const cpu = this.dir('cpu') as string
      await fs.writeFile(path.join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US))
      await fs.writeFile(path.join(cpu, 'cpu.cfs_quota_us'), quotaUs)
      await fs.writeFile(path.join(cpu, 'door', 'cpu.shares'), String(DOOR_CPU.shares))
      await fs.writeFile(path.join(cpu, 'workload', 'cpu.shares'), String(WORKLOAD_CPU.shares))
    }
    if (o.hostUid !== null)
      for (const f of this.procsFiles('workload')) await fs.chown(f, o.hostUid, o.hostUid)
  }

  /** Every pid in the instance's cgroups, its children's included. */
  async pids(): Promise<number[]> {
    const all = new Set<number>()
    for (const d of this.dirs())
      for (const pid of await procsOf([d, path.join(d, 'door'), path.join(d, 'workload')])) all.add(pid)
    return [...all]
  }

  /** SIGKILLs everything in the cgroups until they are empty (or timeoutMs passes). */
  async killAll(timeoutMs = 3000): Promise<void> {
    if (this.version === 'none') return
    const { left } = await freezeAndKill(this, null, timeoutMs)
    if (left.length) throw new Error(`cgroup of ${this.id} still has processes: ${left.join(' ')}`)
  }

  /** How many times the kernel OOM-killed a process of this instance. */
  async oomKills(): Promise<number> {
    const dir = this.dir('memory')
    if (!dir) return 0
    // v2 counts an instance's events with its children's; v1 counts each cgroup's own.
    if (this.version === 'v2') return readCounter(path.join(dir, 'memory.events'), 'oom_kill')
    let sum = 0
    for (const d of [dir, path.join(dir, 'door'), path.join(dir, 'workload')])
      sum += await readCounter(path.join(d, 'memory.oom_control'), 'oom_kill')
    return sum
  }

  /** Removes the cgroups (after killAll); idempotent. */
  async remove(): Promise<void> {
    for (const dir of this.dirs()) {
      for (const d of [path.join(dir, 'door'), path.join(dir, 'workload'), dir]) await rmdirSettled(d)
    }
  }
}

/** The pids listed in these cgroups' procs files (a missing one lists none). */
export async function procsOf(dirs: string[]): Promise<number[]> {
  const all = new Set<number>()
  for (const d of dirs) {
    const text = await fs.readFile(path.join(d, 'cgroup.procs'), 'utf8').catch(() => '')
    for (const line of text.split('\n')) if (line.trim()) all.add(Number(line))
  }
  return [...all]
}

/** A `name value` line of a cgroup's flat-keyed file (pids.events, memory.events, ...), 0 when absent. */
export async function readCounter(file: string, key: string): Promise<number> {
  const text = await fs.readFile(file, 'utf8').catch(() => '')
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text)
  return m ? Number(m[1]) : 0
}

async function rmdirSettled(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.rmdir(dir)
      return
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return
      // EBUSY right after the last task died: the kernel frees it asynchronously.
      if (code !== 'EBUSY' || attempt >= 50) throw err
      await new Promise((r) => setTimeout(r, 20))
    }
  }
}

async function writeMemoryV2(dir: string, bytes: number): Promise<void> {
  await fs.writeFile(path.join(dir, 'memory.max'), String(bytes))
  if (existsSync(path.join(dir, 'memory.swap.max')))
    await fs.writeFile(path.join(dir, 'memory.swap.max'), '0')
}

async function writeMemoryV1(dir: string, bytes: number): Promise<void> {
  const limit = path.join(dir, 'memory.limit_in_bytes')
  const memsw = path.join(dir, 'memory.memsw.limit_in_bytes')
  if (!existsSync(memsw)) return fs.writeFile(limit, String(bytes))
  // memsw must stay >= limit: the order that works depends on raising or lowering.
  try {
    await fs.writeFile(limit, String(bytes))
    await fs.writeFile(memsw, String(bytes))
  } catch {
    await fs.writeFile(memsw, String(bytes))
    await fs.writeFile(limit, String(bytes))
  }
}

async function enableControllers(dir: string): Promise<void> {
  const file = path.join(dir, 'cgroup.subtree_control')
  const enabled = (await fs.readFile(file, 'utf8')).split(/\s+/)
  for (const c of ['memory', 'pids', 'cpu']) {
    if (!enabled.includes(c)) await fs.writeFile(file, `+${c}`)
  }
}
