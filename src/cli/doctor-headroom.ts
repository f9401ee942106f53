import os from 'node:os'
import type { Config } from '../config.js'
import { cpuCap } from '../drivers/local/cgroups.js'

type Check = { level: 'ok' | 'warn' | 'fail'; what: string; fix?: string }

const gib = (mb: number) => `${(mb / 1024).toFixed(1)} GiB`

/**
 * `clawport doctor`'s look at what the plans promise against this host: memory and CPU at
 * every plan's instance limit (one user each), and the CPU reserve no instance may take.
 */
export function headroomChecks(
  config: Pick<Config, 'plans' | 'driver'>,
  host = { memoryMb: os.totalmem() / 1024 / 1024, cores: os.availableParallelism() },
): Check[] {
  const out: Check[] = []
  const cap = cpuCap(host.cores, config.driver.cpuReserve)
  const plans = config.plans.filter((p) => p.instance_limit > 0)
  const memoryMb = plans.reduce((sum, p) => sum + p.instance_limit * p.memory_mb, 0)
  const cpus = plans.reduce((sum, p) => sum + p.instance_limit * Math.min(p.cpus, cap), 0)
  const detail = plans.map((p) => `${p.name} ${p.instance_limit} x ${p.memory_mb} MiB`).join(', ')
  out.push(
    memoryMb > host.memoryMb
      ? {
          level: 'warn',
          what: `plans oversubscribe memory: ${gib(memoryMb)} at their instance limits (${detail}) on a host with ${gib(host.memoryMb)}`,
          fix: 'lower instance_limit or memory_mb in CLAWPORT_PLANS, or cap CLAWPORT_MAX_INSTANCES; idle instances can sleep',
        }
      : {
          level: 'ok',
          what: `plans fit memory: ${gib(memoryMb)} at their instance limits of ${gib(host.memoryMb)}`,
        },
  )
  out.push(
    cpus > cap
      ? {
          level: 'warn',
          what: `plans oversubscribe CPU: ${cpus.toFixed(1)} cores at their instance limits, ${cap.toFixed(1)} for instances (${host.cores} less CLAWPORT_CPU_RESERVE ${config.driver.cpuReserve}); busy instances share them`,
          fix: 'fine for mostly idle agents; lower cpus or instance_limit in CLAWPORT_PLANS for guaranteed CPU',
        }
      : { level: 'ok', what: `plans fit CPU: ${cpus.toFixed(1)} of ${cap.toFixed(1)} cores for instances` },
  )
  for (const p of plans.filter((p) => p.cpus > cap))
    out.push({
      level: 'warn',
      what: `plan ${p.name} asks ${p.cpus} CPUs; its instances get ${cap.toFixed(1)} (the host's ${host.cores} cores less the reserve)`,
    })
  return out
}
