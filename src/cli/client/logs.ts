import { UsageError } from '../args.js'
import type { Ctx } from './command.js'
import { readSse } from './http.js'

const SOURCES = ['boot', 'clawlet', 'gateway', 'desktop']

/** The flags of `clawport instances logs`. */
export const LOGS_OPTIONS = {
  source: { type: 'string' },
  tail: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
} as const

interface Metrics {
  status: string
  running: boolean
  cpu: { percent: number | null; limit_cpus: number }
  memory: { used_bytes: number | null; limit_bytes: number | null }
  disk: { used_bytes: number | null; limit_bytes: number | null }
  processes: { count: number | null; limit: number | null }
  network: { rx_bytes: number; tx_bytes: number } | null
  gateway: { up: boolean; status: string }
}

/** `clawport instances logs <id> [--source S] [--tail N] [--follow]`: lines to stdout. */
export async function logs(ctx: Ctx<typeof LOGS_OPTIONS>, id: string): Promise<number | undefined> {
  const source = ctx.flags.source ?? 'clawlet'
  if (!SOURCES.includes(source)) throw new UsageError(`--source is ${SOURCES.join(', ')}, not "${source}"`)
  const query = { source, tail: ctx.flags.tail }
  if (!ctx.flags.follow) {
    const body = await ctx.api.json<{ lines: string[] }>('GET', `/instances/${id}/logs`, { query })
    ctx.out(body, (b: { lines: string[] }) => b.lines.join('\n'))
    return
  }
  const res = await ctx.api.fetch('GET', `/instances/${id}/logs`, { query: { ...query, follow: true } })
  for await (const e of readSse(res)) {
    const batch = e.data as { lines: string[]; skipped_bytes: number }
    if (ctx.flags.json) ctx.out(batch)
    else {
      if (batch.skipped_bytes) process.stdout.write(`[${batch.skipped_bytes} bytes skipped]\n`)
      for (const line of batch.lines) process.stdout.write(`${line}\n`)
    }
  }
  return
}

const mib = (n: number | null) => (n === null ? '?' : `${(n / 1024 / 1024).toFixed(1)} MiB`)

function metricsText(m: Metrics): string {
  if (!m.running) return `${m.status}: not running`
  return [
    `cpu        ${m.cpu.percent ?? '?'} % (of ${m.cpu.limit_cpus} cpu${m.cpu.limit_cpus === 1 ? '' : 's'} allowed: ${m.cpu.limit_cpus * 100} %)`,
    `memory     ${mib(m.memory.used_bytes)} of ${mib(m.memory.limit_bytes)}`,
    `disk       ${mib(m.disk.used_bytes)} of ${mib(m.disk.limit_bytes)}`,
    `processes  ${m.processes.count ?? '?'} of ${m.processes.limit ?? '?'}`,
    `network    ${m.network ? `in ${mib(m.network.rx_bytes)}, out ${mib(m.network.tx_bytes)}` : 'none'}`,
    `gateway    ${m.gateway.up ? 'up' : m.gateway.status}`,
  ].join('\n')
}

/** `clawport instances metrics <id>`: its resources right now. */
export async function metrics(ctx: Ctx, id: string): Promise<number | undefined> {
  ctx.out(await ctx.api.json<Metrics>('GET', `/instances/${id}/metrics`), metricsText)
  return
}
