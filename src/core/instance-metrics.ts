import { z } from 'zod'
import type { InstanceDriver } from '../drivers/driver.js'
import type { ResourceSample } from '../drivers/instance-metrics.js'
import { errors } from '../errors.js'
import { InstanceStatus } from './instance-types.js'
import type { InstanceService } from './instances.js'
import type { Actor } from './scope.js'

const Nullable = z.number().nullable()

/** An instance's resources right now, against its limits. */
export const InstanceMetrics = z
  .object({
    instance_id: z.string(),
    status: InstanceStatus,
    running: z.boolean(),
    at: z.string().describe('When the counters were read (ISO 8601)'),
    cpu: z.object({
      percent: Nullable.describe(
        'CPU used over the last window, in percent of one CPU (200 = two full CPUs)',
      ),
      limit_cpus: z.number().describe("The plan's CPUs"),
      window_ms: Nullable,
      usage_seconds: Nullable.describe('CPU time used since the sandbox started'),
    }),
    memory: z.object({ used_bytes: Nullable, limit_bytes: Nullable }),
    disk: z.object({ used_bytes: Nullable, limit_bytes: Nullable }),
    processes: z.object({ count: Nullable, limit: Nullable }),
    network: z
      .object({ rx_bytes: z.number(), tx_bytes: z.number() })
      .nullable()
      .describe('Bytes into and out of the instance; null without a network'),
    oom_kills: Nullable,
    gateway: z.object({ up: z.boolean(), status: z.string() }),
  })
  .meta({ id: 'InstanceMetrics' })
export type InstanceMetrics = z.infer<typeof InstanceMetrics>

/** The CPU window a first look at an instance waits for. */
export const CPU_WINDOW_MS = 250
/** A sample older than this is no base for a rate: a new window is measured instead. */
const SAMPLE_FRESH_MS = 30_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Percent of one CPU used between two samples. */
export function cpuPercent(before: ResourceSample, after: ResourceSample): number | null {
  if (before.cpu_usage_us === null || after.cpu_usage_us === null) return null
  const wallUs = (after.at_ms - before.at_ms) * 1000
  if (wallUs <= 0) return null
  // A process that exited takes its time out of a sum over processes: never below zero.
  const used = Math.max(0, after.cpu_usage_us - before.cpu_usage_us)
  return Math.round((used / wallUs) * 1000) / 10
}

/** Reads instances' usage from their driver, keeping each one's last sample to give rates. */
export class InstanceMetricsService {
  private readonly last = new Map<string, ResourceSample>()

  constructor(
    private readonly instances: InstanceService,
    private readonly driver: InstanceDriver,
  ) {}

  /** The latest counters of a running instance (no waiting); null when it is not running. */
  async sample(id: string): Promise<ResourceSample | null> {
    if (!this.driver.sampleResources) throw errors.notSupported('instance metrics')
    const s = await this.driver.sampleResources(id)
    if (!s) this.last.delete(id)
    return s
  }

  /** An instance's resources for its owner, with CPU over the time since the last look. */
  async get(actor: Actor, id: string): Promise<InstanceMetrics> {
    const row = await this.instances.owned(actor, id)
    const resources = row.resources
    let now = await this.sample(row.id)
    let before = this.last.get(row.id)
    if (now && (!before || now.at_ms - before.at_ms > SAMPLE_FRESH_MS || now.at_ms - before.at_ms < 100)) {
      before = now
      await sleep(CPU_WINDOW_MS)
      now = (await this.sample(row.id)) ?? now
    }
    if (now) this.last.set(row.id, now)
    const detail = now ? await this.instances.status(actor, row.id).catch(() => null) : null
    const gatewayStatus = detail?.gateway.status ?? 'stopped'
    return {
      instance_id: row.id,
      status: row.status as InstanceStatus,
      running: now !== null,
      at: new Date(now?.at_ms ?? Date.now()).toISOString(),
      cpu: {
        percent: now && before ? cpuPercent(before, now) : null,
        limit_cpus: resources.cpus,
        window_ms: now && before ? now.at_ms - before.at_ms : null,
        usage_seconds: now?.cpu_usage_us != null ? now.cpu_usage_us / 1e6 : null,
      },
      memory: {
        used_bytes: now?.memory_bytes ?? null,
        limit_bytes: now?.memory_limit_bytes ?? resources.memory_mb * 1024 * 1024,
      },
      disk: { used_bytes: now?.disk_used_bytes ?? null, limit_bytes: now?.disk_limit_bytes ?? null },
      processes: { count: now?.pids ?? null, limit: now?.pids_limit ?? resources.pids_max },
      network:
        now && now.net_rx_bytes !== null && now.net_tx_bytes !== null
          ? { rx_bytes: now.net_rx_bytes, tx_bytes: now.net_tx_bytes }
          : null,
      oom_kills: now?.oom_kills ?? null,
      gateway: { up: gatewayStatus === 'ready', status: gatewayStatus },
    }
  }

  /** Forgets a deleted instance's last sample. */
  forget(id: string): void {
    this.last.delete(id)
  }
}
