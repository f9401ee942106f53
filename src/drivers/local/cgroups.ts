import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { InstanceResources } from '../driver.js'

const CGROUP_ROOT = '/sys/fs/cgroup'
const PARENT = 'clawport'
const V1_CONTROLLERS = ['memory', 'pids', 'cpu'] as const
const CPU_PERIOD_US = 100_000

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
  return { version: 'v1' }
}

/**
 * Creates the shared parent cgroup(s) once, so a host where that is not allowed (a v2 root
 * that is really a container's cgroup holding processes, a read-only mount) is found at start.
 */
export async function prepareCgroupParent(
  version: CgroupVersion,
  root = CGROUP_ROOT,
): Promise<string | null> {
  try {
    if (version === 'v2') {
      await fs.mkdir(path.join(root, PARENT), { recursive: true })
      await enableControllers(root)
      await enableControllers(path.join(root, PARENT))
    } else if (version === 'v1') {
      for (const c of V1_CONTROLLERS) await fs.mkdir(path.join(root, c, PARENT), { recursive: true })
    }
    return null
  } catch (err) {
    return `cgroup ${version} not writable (${(err as Error).message}): no memory, cpu or pids limits`
  }
}

/** The cgroups of one instance, on whichever hierarchy the host has. */
export class InstanceCgroup {
  constructor(
    readonly version: CgroupVersion,
    readonly id: string,
    private readonly root = CGROUP_ROOT,
  ) {}

  /** One directory on v2, one per controller on v1, none without cgroups. */
  dirs(): string[] {
    if (this.version === 'v2') return [path.join(this.root, PARENT, this.id)]
    if (this.version === 'v1') return V1_CONTROLLERS.map((c) => path.join(this.root, c, PARENT, this.id))
    return []
  }

  /** The files a launcher writes its pid into before it execs the sandbox. */
  procsFiles(): string[] {
    return this.dirs().map((d) => path.join(d, 'cgroup.procs'))
  }

  /** Creates the cgroups and writes the limits; safe to call again with new limits. */
  async apply(r: InstanceResources): Promise<void> {
    const memBytes = String(r.memory_mb * 1024 * 1024)
    const quotaUs = Math.max(1000, Math.round(r.cpus * CPU_PERIOD_US))
    if (this.version === 'v2') {
      const parent = path.join(this.root, PARENT)
      await fs.mkdir(parent, { recursive: true })
      // Controllers must be enabled in every ancestor's subtree_control to reach the leaf.
      await enableControllers(this.root)
      await enableControllers(parent)
      const dir = path.join(parent, this.id)
      await fs.mkdir(dir, { recursive: true })
      await fs.writeFile(path.join(dir, 'memory.max'), memBytes)
      if (existsSync(path.join(dir, 'memory.swap.max')))
        await fs.writeFile(path.join(dir, 'memory.swap.max'), '0')
      await fs.writeFile(path.join(dir, 'pids.max'), String(r.pids_max))
      await fs.writeFile(path.join(dir, 'cpu.max'), `${quotaUs} ${CPU_PERIOD_US}`)
      return
    }
    if (this.version !== 'v1') return
    const [mem, pids, cpu] = this.dirs() as [string, string, string]
    for (const d of [mem, pids, cpu]) await fs.mkdir(d, { recursive: true })
    const limit = path.join(mem, 'memory.limit_in_bytes')
    const memsw = path.join(mem, 'memory.memsw.limit_in_bytes')
    if (existsSync(memsw)) {
      // memsw must stay >= limit: the order that works depends on raising or lowering.
      try {
        await fs.writeFile(limit, memBytes)
        await fs.writeFile(memsw, memBytes)
      } catch {
        await fs.writeFile(memsw, memBytes)
        await fs.writeFile(limit, memBytes)
      }
    } else {
      await fs.writeFile(limit, memBytes)
    }
    await fs.writeFile(path.join(pids, 'pids.max'), String(r.pids_max))
    await fs.writeFile(path.join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US))
    await fs.writeFile(path.join(cpu, 'cpu.cfs_quota_us'), String(quotaUs))
  }

  /** Every pid in the instance's cgroups. */
  async pids(): Promise<number[]> {
    const all = new Set<number>()
    for (const f of this.procsFiles()) {
      const text = await fs.readFile(f, 'utf8').catch(() => '')
      for (const line of text.split('\n')) if (line.trim()) all.add(Number(line))
    }
    return [...all]
  }

  /** SIGKILLs everything in the cgroups until they are empty (or timeoutMs passes). */
  async killAll(timeoutMs = 3000): Promise<void> {
    if (this.version === 'none') return
    const kill = this.version === 'v2' ? path.join(this.dirs()[0] as string, 'cgroup.kill') : null
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const pids = await this.pids()
      if (pids.length === 0) return
      if (kill && existsSync(kill)) await fs.writeFile(kill, '1').catch(() => {})
      // Kill in a loop: a fork between reading the list and signalling adds new pids.
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
      }
      if (Date.now() > deadline)
        throw new Error(`cgroup of ${this.id} still has processes: ${pids.join(' ')}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  /** How many times the kernel OOM-killed a process of this instance. */
  async oomKills(): Promise<number> {
    const dir = this.dirs()[0]
    if (!dir) return 0
    const file = path.join(dir, this.version === 'v2' ? 'memory.events' : 'memory.oom_control')
    const text = await fs.readFile(file, 'utf8').catch(() => '')
    const m = /^oom_kill (\d+)$/m.exec(text)
    return m ? Number(m[1]) : 0
  }

  /** Removes the cgroups (after killAll); idempotent. */
  async remove(): Promise<void> {
    for (const dir of this.dirs()) {
      for (let attempt = 0; ; attempt++) {
        try {
          await fs.rmdir(dir)
          break
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code
          if (code === 'ENOENT') break
          // EBUSY right after the last task died: the kernel frees it asynchronously.
          if (code !== 'EBUSY' || attempt >= 50) throw err
          await new Promise((r) => setTimeout(r, 20))
        }
      }
    }
  }
}

async function enableControllers(dir: string): Promise<void> {
  const file = path.join(dir, 'cgroup.subtree_control')
  const enabled = (await fs.readFile(file, 'utf8')).split(/\s+/)
  for (const c of ['memory', 'pids', 'cpu']) {
    if (!enabled.includes(c)) await fs.writeFile(file, `+${c}`)
  }
}
