/** Percentiles and printing shared by the bench scripts. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i] as number
}

export interface Summary {
  n: number
  p50: number
  p95: number
  p99: number
  mean: number
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b)
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    mean,
  }
}

export function line(label: string, s: Summary, unit = 'ms'): string {
  const f = (x: number) => x.toFixed(x < 10 ? 2 : 1)
  return `${label.padEnd(34)} n=${String(s.n).padEnd(5)} p50=${f(s.p50)}${unit}  p95=${f(s.p95)}${unit}  p99=${f(s.p99)}${unit}`
}

/** Times fn n times (after warm-up runs) and returns the samples in ms. */
export async function time(
  n: number,
  fn: () => Promise<unknown>,
  warmup = Math.min(20, n),
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn()
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await fn()
    out.push(performance.now() - t)
  }
  return out
}
