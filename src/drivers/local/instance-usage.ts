import fs from 'node:fs/promises'
import type { ResourceSample } from '../instance-metrics.js'
import { cgroupUsage, tapCounters, treePids } from './cgroup-usage.js'
import type { InstanceCgroup } from './cgroups.js'
import { isMounted } from './disk.js'
import type { InstanceLayout } from './layout.js'

/** The instance's disk: its own file system when it has a quota, unknown otherwise. */
async function diskUsage(layout: InstanceLayout): Promise<{ used: number; limit: number } | null> {
  if (!(await isMounted(layout.diskMount))) return null
  const st = await fs.statfs(layout.diskMount)
  return { used: (st.blocks - st.bfree) * st.bsize, limit: st.blocks * st.bsize }
}

/** One reading of a running instance's counters: cgroups, /proc and its disk. */
export async function sampleInstance(
  layout: InstanceLayout,
  cgroup: InstanceCgroup,
  sandboxPid: number | undefined,
): Promise<ResourceSample> {
  const at = Date.now()
  const inGroup = await treePids(cgroup.dirs())
  const pids = inGroup.length ? inGroup : sandboxPid ? [sandboxPid] : []
  // The sandbox's own processes are in its network namespace; bwrap's outer one is not, so the
  // newest pids come first.
  const net = await tapCounters([...pids].sort((a, b) => b - a))
  const usage = await cgroupUsage(cgroup.version, cgroup.id, pids)
  const disk = await diskUsage(layout).catch(() => null)
  return {
    at_ms: at,
    ...usage,
    disk_used_bytes: disk?.used ?? null,
    disk_limit_bytes: disk?.limit ?? null,
    net_rx_bytes: net?.rx ?? null,
    net_tx_bytes: net?.tx ?? null,
  }
}
