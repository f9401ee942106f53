/**
 * What an instance uses right now, as its driver reads it. Counters (cpu, network) only grow
 * while it runs; a rate is the difference of two samples. Null where this host cannot tell.
 */
export interface ResourceSample {
  /** When it was read (ms since the epoch). */
  at_ms: number
  /** CPU time the instance's processes have used, in microseconds. */
  cpu_usage_us: number | null
  /** Memory in use, without the page cache the kernel may drop at once. */
  memory_bytes: number | null
  memory_limit_bytes: number | null
  pids: number | null
  pids_limit: number | null
  disk_used_bytes: number | null
  disk_limit_bytes: number | null
  /** Bytes in and out of the instance's network interface; null without a network. */
  net_rx_bytes: number | null
  net_tx_bytes: number | null
  oom_kills: number | null
}
