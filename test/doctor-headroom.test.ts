import { describe, expect, it } from 'vitest'
import { headroomChecks } from '../src/cli/doctor-headroom.js'
import { loadConfig } from '../src/config.js'
import { cpuCap } from '../src/drivers/local/cgroups.js'

const plans = (list: object[]) =>
  loadConfig({ CLAWPORT_PLANS: JSON.stringify(list), CLAWPORT_DEFAULT_PLAN: 'free' })

describe('clawport doctor: host headroom', () => {
  it('warns when plans at their instance limits oversubscribe memory or CPU', () => {
    const config = plans([
      { name: 'free', instance_limit: 0 },
      { name: 'pro', instance_limit: 3, memory_mb: 4096, cpus: 2 },
    ])
    const checks = headroomChecks(config, { memoryMb: 8192, cores: 2 })
    const memory = checks.find((c) => c.what.includes('memory'))
    expect(memory?.level).toBe('warn')
    expect(memory?.what).toContain('12.0 GiB')
    expect(checks.find((c) => c.what.includes('oversubscribe CPU'))?.level).toBe('warn')
    // A plan that asks every core gets the host's cores less the reserve.
    expect(checks.find((c) => c.what.startsWith('plan pro asks 2 CPUs'))?.what).toContain('1.5')
  })

  it('says ok when they fit', () => {
    const config = plans([
      { name: 'free', instance_limit: 0 },
      { name: 'small', instance_limit: 2, memory_mb: 1024, cpus: 0.5 },
    ])
    const checks = headroomChecks(config, { memoryMb: 8192, cores: 4 })
    expect(checks.map((c) => c.level)).toEqual(['ok', 'ok'])
  })

  it('keeps the reserve, and at least a tenth of a core, from any instance', () => {
    expect(cpuCap(2, 0.5)).toBe(1.5)
    expect(cpuCap(1, 2)).toBe(0.1)
    expect(loadConfig({}).driver.cpuReserve).toBe(0.5)
  })
})
