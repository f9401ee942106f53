import os from 'node:os'
import type { Config, FleetConfig } from '../../config.js'
import type { InstanceResources } from '../../drivers/driver.js'
import { errors } from '../../errors.js'
import { runnerHealthy } from '../../runner/health.js'
import type { Store } from '../../store/index.js'
import type { RunnerRow } from '../../store/runners-store.js'

/**
 * Held (a transaction lock) by every insert of an instance: the capacity check and the choice of
 * a host uid see every other replica's creates that committed before.
 */
export const ADMISSION_LOCK = 'instances:admission'

/** Where a new instance runs and as which host uid. */
export interface Placement {
  /** The runner; null: this server's own (in-process) runner. */
  runner_id: string | null
  host_uid: number
}

/** A place an instance could go, with what it has left. */
interface Candidate {
  runner_id: string | null
  name: string
  freeMemoryMb: number
  uid: (taken: number[]) => number
}

/** Whether this server runs instances itself, given the runners registered. */
export function localInstancesOn(fleet: FleetConfig, runners: readonly unknown[]): boolean {
  return fleet.localInstances === 'on' || (fleet.localInstances === 'auto' && runners.length === 0)
}

/**
 * Whether no new instance fits anywhere by count alone: with no runner registered, this server's
 * CLAWPORT_MAX_INSTANCES (as before runners); with runners, placement judges each one.
 */
export async function fleetFull(tx: Store, fleet: FleetConfig): Promise<boolean> {
  if ((await tx.runners.list()).length > 0) return false
  return (await tx.instances.countAll()) >= fleet.maxInstances
}

/**
 * Picks where a new instance runs (call under the admission lock): a healthy, active runner with
 * room for the plan's memory and one more instance, carrying every label the plan asks for;
 * the most free memory wins, ties broken at random. This server's own runner is a candidate
 * while CLAWPORT_LOCAL_INSTANCES allows it. Host uids are unique across all runners, so two
 * runners sharing a machine never share a uid.
 */
export async function placeInstance(
  tx: Store,
  config: Pick<Config, 'fleet' | 'plans'>,
  localUid: (taken: number[]) => number,
  resources: InstanceResources,
  planName: string | null,
): Promise<Placement> {
  const runners = await tx.runners.list()
  const taken = await tx.instances.usedHostUids()
  if (runners.length === 0 && config.fleet.localInstances !== 'off')
    return { runner_id: null, host_uid: localUid(taken) }
  const labels = config.plans.find((p) => p.name === planName)?.runner_labels ?? {}
  const load = new Map((await tx.runners.load()).map((l) => [l.runner_id, l]))
  const candidates: Candidate[] = []
  const refused: string[] = []
  const now = Date.now()
  for (const r of runners) {
    const why = refusal(r, load.get(r.id), resources, labels, now)
    if (why) refused.push(`${r.name} ${why}`)
    else
      candidates.push({
        runner_id: r.id,
        name: r.name,
        freeMemoryMb: r.memory_mb - (load.get(r.id)?.memory_mb ?? 0),
        uid: (t) => lowestFree(r.uid_base, t),
      })
  }
  if (localInstancesOn(config.fleet, runners)) {
    const local = load.get(null)
    const used = local?.memory_mb ?? 0
    const total = Math.floor(os.totalmem() / 1024 / 1024)
    if ((local?.instances ?? 0) >= config.fleet.maxInstances)
      refused.push('this server is at CLAWPORT_MAX_INSTANCES')
    else if (!hasLabels(config.fleet.runnerLabels, labels))
      refused.push("this server lacks the plan's labels")
    else candidates.push({ runner_id: null, name: 'local', freeMemoryMb: total - used, uid: localUid })
  }
  if (candidates.length === 0)
    throw errors.noRunner(refused.length ? refused.join('; ') : 'no runner is registered')
  const most = Math.max(...candidates.map((c) => c.freeMemoryMb))
  const best = candidates.filter((c) => c.freeMemoryMb === most)
  const pick = best[Math.floor(Math.random() * best.length)] as Candidate
  return { runner_id: pick.runner_id, host_uid: pick.uid(taken) }
}

/** Why a runner cannot take the instance, or null when it can. */
function refusal(
  r: RunnerRow,
  load: { instances: number; memory_mb: number } | undefined,
  resources: InstanceResources,
  labels: Record<string, string>,
  now: number,
): string | null {
  if (r.state === 'draining') return 'is draining'
  if (!runnerHealthy(r, now)) return 'is unresponsive'
  if (!hasLabels(r.labels, labels)) return `lacks the labels ${JSON.stringify(labels)}`
  if ((load?.instances ?? 0) >= r.max_instances) return `holds its ${r.max_instances} instances`
  const free = r.memory_mb - (load?.memory_mb ?? 0)
  if (free < resources.memory_mb) return `has ${free} MB free of the ${resources.memory_mb} MB needed`
  return null
}

function hasLabels(have: Record<string, string>, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => have[k] === v)
}

/** The lowest uid from `base` up that no instance holds. */
function lowestFree(base: number, taken: number[]): number {
  const used = new Set(taken)
  let uid = base
  while (used.has(uid)) uid++
  return uid
}
