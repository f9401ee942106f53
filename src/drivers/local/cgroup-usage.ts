import fs from 'node:fs/promises'
import path from 'node:path'
import type { ResourceSample } from '../instance-metrics.js'
import type { CgroupVersion } from './cgroups.js'

/**
 * Reads an instance's usage counters from its cgroups (v1 or v2) and from /proc: read only,
 * and every file is the kernel's, so nothing the instance writes is parsed here.
 */

const CGROUP_ROOT = '/sys/fs/cgroup'
const PARENT = 'clawport'
/** USER_HZ: the unit of utime and stime in /proc/<pid>/stat on Linux. */
const CLOCK_TICKS_PER_S = 100

async function readText(file: string): Promise<string | null> {
  return fs.readFile(file, 'utf8').catch(() => null)
}

async function readNumber(file: string): Promise<number | null> {
  const text = (await readText(file))?.trim()
  if (!text || text === 'max') return null
  const n = Number(text)
  return Number.isFinite(n) ? n : null
}

/** A `key value` line of a flat-keyed cgroup file (cpu.stat, memory.stat, memory.events). */
function statField(text: string | null, key: string): number | null {
  const m = text ? new RegExp(`^${key} (\\d+)$`, 'm').exec(text) : null
  return m ? Number(m[1]) : null
}

/** v1 reports "no limit" as a huge page-rounded number: anything past 2^62 means none. */
function limitOrNull(n: number | null): number | null {
  return n === null || n >= 2 ** 62 ? null : n
}

/**
 * Every pid in the cgroups and the groups below them (an instance's door and workload live in
 * child groups, and a group's cgroup.procs lists only its own).
 */
export async function treePids(dirs: string[], depth = 3): Promise<number[]> {
  const all = new Set<number>()
  const walk = async (dir: string, left: number): Promise<void> => {
    const text = await readText(path.join(dir, 'cgroup.procs'))
    for (const line of text?.split('\n') ?? []) if (line.trim()) all.add(Number(line))
    if (left === 0) return
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => [])
    for (const e of entries) if (e.isDirectory()) await walk(path.join(dir, e.name), left - 1)
  }
  for (const dir of dirs) await walk(dir, depth)
  return [...all]
}

/** CPU time of the processes themselves (utime + stime, and their reaped children's), in us. */
export async function procCpuUs(pids: number[]): Promise<number | null> {
  if (pids.length === 0) return null
  let ticks = 0
  for (const pid of pids) {
    const text = await readText(`/proc/${pid}/stat`)
    if (!text) continue
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    // utime, stime, cutime, cstime are fields 14-17: 12-15 after the name.
    for (const i of [11, 12, 13, 14]) ticks += Number(f[i]) || 0
  }
  return Math.round((ticks / CLOCK_TICKS_PER_S) * 1_000_000)
}

/** The bytes in and out of tap0 (slirp4netns's interface) in the network namespace of `pids`. */
export async function tapCounters(pids: number[]): Promise<{ rx: number; tx: number } | null> {
  for (const pid of pids.slice(0, 8)) {
    const text = await readText(`/proc/${pid}/net/dev`)
    const line = text?.split('\n').find((l) => l.trim().startsWith('tap0:'))
    if (!line) continue
    const f = line.split(':')[1]?.trim().split(/\s+/) ?? []
    return { rx: Number(f[0]) || 0, tx: Number(f[8]) || 0 }
  }
  return null
}

/** Cgroup counters of instance `id`; the pids are the cgroup's own (for /proc lookups). */
export async function cgroupUsage(
  version: CgroupVersion,
  id: string,
  pids: number[],
  root = CGROUP_ROOT,
): Promise<
  Pick<
    ResourceSample,
    'cpu_usage_us' | 'memory_bytes' | 'memory_limit_bytes' | 'pids' | 'pids_limit' | 'oom_kills'
  >
> {
  if (version === 'v2') {
    const dir = path.join(root, PARENT, id)
    const memStat = await readText(path.join(dir, 'memory.stat'))
    const current = await readNumber(path.join(dir, 'memory.current'))
    return {
      cpu_usage_us: statField(await readText(path.join(dir, 'cpu.stat')), 'usage_usec'),
      memory_bytes:
        current === null ? null : Math.max(0, current - (statField(memStat, 'inactive_file') ?? 0)),
      memory_limit_bytes: limitOrNull(await readNumber(path.join(dir, 'memory.max'))),
      pids: await readNumber(path.join(dir, 'pids.current')),
      pids_limit: limitOrNull(await readNumber(path.join(dir, 'pids.max'))),
      oom_kills: statField(await readText(path.join(dir, 'memory.events')), 'oom_kill'),
    }
  }
  if (version === 'v1') {
    const mem = path.join(root, 'memory', PARENT, id)
    const memStat = await readText(path.join(mem, 'memory.stat'))
    const usage = await readNumber(path.join(mem, 'memory.usage_in_bytes'))
    // cpuacct is the cpu controller's companion where the two are mounted together; apart,
    // the instance has no cpuacct group of its own and its processes are summed instead.
    const cpuacctNs =
      (await readNumber(path.join(root, 'cpu', PARENT, id, 'cpuacct.usage'))) ??
      (await readNumber(path.join(root, 'cpuacct', PARENT, id, 'cpuacct.usage')))
    return {
      cpu_usage_us: cpuacctNs !== null ? Math.round(cpuacctNs / 1000) : await procCpuUs(pids),
      memory_bytes:
        usage === null ? null : Math.max(0, usage - (statField(memStat, 'total_inactive_file') ?? 0)),
      memory_limit_bytes: limitOrNull(await readNumber(path.join(mem, 'memory.limit_in_bytes'))),
      pids: await readNumber(path.join(root, 'pids', PARENT, id, 'pids.current')),
      pids_limit: limitOrNull(await readNumber(path.join(root, 'pids', PARENT, id, 'pids.max'))),
      oom_kills: statField(await readText(path.join(mem, 'memory.oom_control')), 'oom_kill'),
    }
  }
  return {
    cpu_usage_us: await procCpuUs(pids),
    memory_bytes: null,
    memory_limit_bytes: null,
    pids: pids.length || null,
    pids_limit: null,
    oom_kills: null,
  }
}
