import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { ModelBroker } from '../broker/broker.js'
import type { ResourceSample } from '../drivers/instance-metrics.js'
import type { Store } from '../store/index.js'
import type { InstanceMetricsService } from './instance-metrics.js'
import type { WarmPool } from './warm-pool.js'

/** Statuses in which an instance may have a sandbox to read. */
const RUNNING = new Set(['ready', 'starting', 'rebooting', 'sleeping', 'waking'])
/** A scrape reads at most this many instances' counters (the rest are left out). */
const MAX_SAMPLED = 500

export interface PrometheusSources {
  store: Store
  metrics: InstanceMetricsService
  pool: WarmPool
  broker: ModelBroker
}

/**
 * The server's Prometheus metrics: HTTP latency by route and errors by code (counted as they
 * happen), and at each scrape instances by status, each running instance's resources, model
 * tokens, broker failures and the warm pool.
 */
export class ServerMetrics {
  readonly registry = new Registry()
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>
  readonly httpErrors: Counter<'code' | 'status'>
  private scrape?: Promise<Array<{ id: string; s: ResourceSample }>>

  constructor(private readonly src: PrometheusSources) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry, prefix: 'clawport_process_' })
    this.httpDuration = new Histogram({
      name: 'clawport_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route pattern',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    })
    this.httpErrors = new Counter({
      name: 'clawport_http_errors_total',
      help: 'Error answers, by code',
      labelNames: ['code', 'status'],
      registers,
    })
    new Gauge({
      name: 'clawport_instances',
      help: 'Instances by status',
      labelNames: ['status'],
      registers,
      collect: async function (this: Gauge<'status'>) {
        this.reset()
        for (const row of await src.store.instances.listAll()) this.inc({ status: row.status })
      },
    })
    const perInstance = (
      name: string,
      help: string,
      pick: (s: ResourceSample) => number | null,
      counter = false,
    ) => {
      const read = () => this.samples()
      const collect = async function (this: Gauge<'instance'> | Counter<'instance'>) {
        this.reset()
        for (const { id, s } of await read()) {
          const v = pick(s)
          if (v === null) continue
          if (this instanceof Gauge) this.set({ instance: id }, v)
          else this.inc({ instance: id }, v)
        }
      }
      const opts = { name, help, labelNames: ['instance'] as const, registers, collect }
      if (counter) new Counter(opts)
      else new Gauge(opts)
    }
    const cpuSeconds = (s: ResourceSample) => (s.cpu_usage_us === null ? null : s.cpu_usage_us / 1e6)
    perInstance('clawport_instance_cpu_seconds_total', 'CPU time used', cpuSeconds, true)
    perInstance('clawport_instance_memory_bytes', 'Memory in use', (s) => s.memory_bytes)
    perInstance('clawport_instance_memory_limit_bytes', 'Memory limit', (s) => s.memory_limit_bytes)
    perInstance('clawport_instance_processes', 'Processes', (s) => s.pids)
    perInstance('clawport_instance_disk_used_bytes', 'Disk in use', (s) => s.disk_used_bytes)
    perInstance('clawport_instance_disk_limit_bytes', 'Disk size', (s) => s.disk_limit_bytes)
    perInstance('clawport_instance_network_receive_bytes_total', 'Bytes in', (s) => s.net_rx_bytes, true)
    perInstance('clawport_instance_network_transmit_bytes_total', 'Bytes out', (s) => s.net_tx_bytes, true)
    perInstance(
      'clawport_instance_oom_kills_total',
      'Processes the kernel killed for memory',
      (s) => s.oom_kills,
      true,
    )
    new Counter({
      name: 'clawport_broker_tokens_total',
      help: 'Model tokens the broker metered, by kind',
      labelNames: ['kind'],
      registers,
      collect: async function (this: Counter<'kind'>) {
        const t = await src.store.usage.totals({})
        this.reset()
        this.inc({ kind: 'prompt' }, t.prompt_tokens)
        this.inc({ kind: 'completion' }, t.completion_tokens)
      },
    })
    new Counter({
      name: 'clawport_broker_errors_total',
      help: 'Model calls the broker answered with an error, by code',
      labelNames: ['code'],
      registers,
      collect: function (this: Counter<'code'>) {
        this.reset()
        for (const [code, n] of src.broker.failureCounts) this.inc({ code }, n)
      },
    })
    new Gauge({
      name: 'clawport_pool_instances',
      help: 'Warm pool: its target size, and instances ready or warming',
      labelNames: ['state'],
      registers,
      collect: async function (this: Gauge<'state'>) {
        const p = await src.pool.status()
        this.set({ state: 'target' }, p.size)
        this.set({ state: 'ready' }, p.ready)
        this.set({ state: 'warming' }, p.warming)
      },
    })
  }

  /** Every running instance's counters, read once per scrape however many metrics use them. */
  private samples(): Promise<Array<{ id: string; s: ResourceSample }>> {
    this.scrape ??= (async () => {
      const rows = (await this.src.store.instances.listAll()).filter((r) => RUNNING.has(r.status))
      const out: Array<{ id: string; s: ResourceSample }> = []
      for (const row of rows.slice(0, MAX_SAMPLED)) {
        const s = await this.src.metrics.sample(row.id).catch(() => null)
        if (s) out.push({ id: row.id, s })
      }
      return out
    })()
    return this.scrape
  }

  /** The text exposition for one scrape. */
  async render(): Promise<string> {
    try {
      return await this.registry.metrics()
    } finally {
      this.scrape = undefined
    }
  }
}
