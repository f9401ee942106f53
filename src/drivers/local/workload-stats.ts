import fs from 'node:fs/promises'
import path from 'node:path'
import { type InstanceCgroup, readCounter } from './cgroups.js'

/** One look at an instance's workload cgroup: its limits, how often it hit them, what it uses. */
export interface WorkloadSample {
  at: number
  /** Forks refused at the workload's pids limit, since it was made. */
  pidsHits: number
  pidsCurrent: number
  pidsMax: number
  /** Times its memory usage hit the limit (v1 failcnt, v2 memory.events max). */
  memoryHits: number
  memoryBytes: number
  memoryLimitBytes: number
  oomKills: number
  /** File pages read again soon after the kernel evicted them: the mark of thrashing. */
  refaults: number
  /** v2 only: the share of the last 10 s in which all its tasks waited on memory. */
  memoryFullPct?: number
}

async function readNumber(file: string): Promise<number> {
  const text = (await fs.readFile(file, 'utf8')).trim()
  // pids.max and memory.max read `max` without a limit.
  return text === 'max' ? Number.POSITIVE_INFINITY : Number(text)
}

/** Reads the workload's counters; null when its cgroup is gone (a stopped instance). */
export async function sampleWorkload(cg: InstanceCgroup): Promise<WorkloadSample | null> {
  const pids = cg.dir('pids')
  const mem = cg.dir('memory')
  if (!pids || !mem) return null
  const p = path.join(pids, 'workload')
  const m = path.join(mem, 'workload')
  try {
    const v2 = cg.version === 'v2'
    const stat = await fs.readFile(path.join(m, 'memory.stat'), 'utf8')
    const refault = /^(?:total_)?workingset_refault(?:_file)? (\d+)$/m.exec(stat)
    const sample: WorkloadSample = {
      at: Date.now(),
      pidsHits: await readCounter(path.join(p, 'pids.events'), 'max'),
      pidsCurrent: await readNumber(path.join(p, 'pids.current')),
      pidsMax: await readNumber(path.join(p, 'pids.max')),
      memoryHits: v2
        ? await readCounter(path.join(m, 'memory.events'), 'max')
        : await readNumber(path.join(m, 'memory.failcnt')),
      memoryBytes: await readNumber(path.join(m, v2 ? 'memory.current' : 'memory.usage_in_bytes')),
      memoryLimitBytes: await readNumber(path.join(m, v2 ? 'memory.max' : 'memory.limit_in_bytes')),
      oomKills: await readCounter(path.join(m, v2 ? 'memory.events' : 'memory.oom_control'), 'oom_kill'),
      refaults: refault ? Number(refault[1]) : 0,
    }
    if (v2) {
      const pressure = await fs.readFile(path.join(m, 'memory.pressure'), 'utf8').catch(() => '')
      const full = /^full avg10=([\d.]+)/m.exec(pressure)
      if (full) sample.memoryFullPct = Number(full[1])
    }
    return sample
  } catch {
    return null
  }
}
