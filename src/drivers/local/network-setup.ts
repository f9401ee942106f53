import { closeSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import type { LaunchRecord } from './launch.js'
import { sameProcess, signalProcess } from './launch.js'
import { applyRuleset, hostNetworks, networkRuleset, startSlirp, waitForLoopback } from './network.js'
import {
  type KeeperProcess,
  netnsOf,
  RESOLVER_ADDRESS,
  reopenPipe,
  resolverCommand,
  startKeeper,
} from './network-keeper.js'

/** What a networked sandbox is given: its mode, its names (allowlist) and its DNS server. */
export interface NetworkPlan {
  mode: 'public' | 'allowlist'
  allowedHosts: string[]
  dns: string
}

/** Log files of an instance's network helpers (root's). */
export interface NetworkLogs {
  slirp: string
  keeper: string
}

/** The nameserver an instance's resolv.conf names. */
export function nameserverFor(mode: 'public' | 'allowlist' | 'off', dns: string): string {
  return mode === 'allowlist' ? RESOLVER_ADDRESS : dns
}

/** The uid a user namespace shows for a host uid it does not map (the kernel's overflow uid). */
function overflowUid(): number {
  try {
    return Number(readFileSync('/proc/sys/fs/overflowuid', 'utf8').trim()) || 65534
  } catch {
    return 65534
  }
}

/** The fds the keeper and slirp4netns hold their read end of the sync pipe on. */
const KEEPER_PIPE_FD = 3
const SLIRP_PIPE_FD = 4

const resolverOf = (plan: NetworkPlan) =>
  plan.mode === 'allowlist' ? resolverCommand(plan.allowedHosts, plan.dns) : null

/**
 * Gives a blocked sandbox its network: the policy first, then slirp4netns and the keeper (with
 * the resolver of an allowlist), both tied to `exitFd`, the read end of the sandbox's sync pipe.
 * Fills the record's network fields; on failure the caller stops the sandbox.
 */
export async function connectSandbox(
  record: LaunchRecord,
  plan: NetworkPlan,
  exitFd: number,
  logs: NetworkLogs,
): Promise<void> {
  const pid = record.childPid
  await waitForLoopback(pid)
  await applyRuleset(pid, networkRuleset(plan.mode, hostNetworks(), plan.dns, overflowUid()))
  Object.assign(record, {
    network: plan.mode,
    allowedHosts: plan.allowedHosts,
    dns: plan.dns,
    netns: netnsOf(pid) ?? undefined,
  })
  const [slirp, keeper] = await Promise.allSettled([
    startSlirp(pid, exitFd, logs.slirp),
    startKeeper(pid, exitFd, resolverOf(plan), logs.keeper),
  ])
  if (slirp.status === 'fulfilled')
    Object.assign(record, { slirpPid: slirp.value.pid, slirpStart: slirp.value.start })
  if (keeper.status === 'fulfilled') Object.assign(record, keeperFields(keeper.value))
  for (const r of [slirp, keeper]) if (r.status === 'rejected') throw r.reason
}

/**
 * Restarts the network helpers of a running sandbox that lost one (slirp4netns or the keeper
 * with its resolver died), tied to the sandbox through the survivor's descriptor of its sync
 * pipe. Returns whether the record changed; throws when neither is left (nothing holds the
 * sandbox's pipe any more: it has to start again).
 */
export async function repairNetwork(record: LaunchRecord, logs: NetworkLogs): Promise<boolean> {
  if (!record.network) return false
  const slirpUp = sameProcess(record.slirpPid ?? 0, record.slirpStart ?? '')
  const keeperUp = sameProcess(record.keeperPid ?? 0, record.keeperStart ?? '')
  if (slirpUp && keeperUp) return false
  if (!slirpUp && !keeperUp) throw new Error('the network helpers of the sandbox are gone')
  const plan: NetworkPlan = {
    mode: record.network,
    allowedHosts: record.allowedHosts ?? [],
    dns: record.dns ?? '',
  }
  const fd = slirpUp
    ? reopenPipe(record.slirpPid as number, SLIRP_PIPE_FD)
    : reopenPipe(record.keeperPid as number, KEEPER_PIPE_FD)
  try {
    if (!slirpUp) {
      const slirp = await startSlirp(record.childPid, fd, logs.slirp)
      Object.assign(record, { slirpPid: slirp.pid, slirpStart: slirp.start })
    } else {
      // What the dead keeper started (a resolver without it) goes first: it holds the port.
      if (record.netns) await killResolvers(record)
      const keeper = await startKeeper(record.childPid, fd, resolverOf(plan), logs.keeper)
      Object.assign(record, keeperFields(keeper))
    }
  } finally {
    closeSync(fd)
  }
  return true
}

/** Kills what runs in the sandbox's namespace on the host's behalf (its resolver's processes). */
async function killResolvers(record: LaunchRecord): Promise<void> {
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name) || netnsOf(Number(name)) !== record.netns) continue
    const comm = (await fs.readFile(`/proc/${name}/comm`, 'utf8').catch(() => '')).trim()
    if (comm !== 'dnsmasq') continue
    try {
      process.kill(Number(name), 'SIGKILL')
    } catch {}
  }
}

const keeperFields = (k: KeeperProcess) => ({
  keeperPid: k.pid,
  keeperStart: k.start,
  resolverPid: k.resolverPid,
  resolverStart: k.resolverStart,
})

/**
 * Stops a sandbox's network helpers (slirp4netns, the keeper and its process group, the
 * resolver, even one its keeper left behind), each only while it is still the recorded
 * process: once they are gone, their namespace's number may belong to another sandbox.
 */
export function disconnectSandbox(record: LaunchRecord): void {
  if (record.slirpPid && record.slirpStart) signalProcess(record.slirpPid, record.slirpStart, 'SIGKILL')
  if (record.keeperPid && record.keeperStart && sameProcess(record.keeperPid, record.keeperStart)) {
    try {
      process.kill(-record.keeperPid, 'SIGKILL')
    } catch {}
  }
  if (record.resolverPid && record.resolverStart)
    signalProcess(record.resolverPid, record.resolverStart, 'SIGKILL')
}
