import type { PlanSpec } from '../config.js'
import type { DoorHandler } from '../door/listen.js'
import type { ClawletTransport } from '../door/transport.js'
import type { LogChunk, LogRead } from './instance-logs.js'
import type { ResourceSample } from './instance-metrics.js'

/** Resource limits applied to one instance's sandbox, taken from its owner's plan. */
export interface InstanceResources {
  memory_mb: number
  cpus: number
  pids_max: number
  disk_mb: number
}

export function resourcesFromPlan(
  plan: Pick<PlanSpec, 'memory_mb' | 'cpus' | 'pids_max' | 'disk_mb'>,
): InstanceResources {
  return { memory_mb: plan.memory_mb, cpus: plan.cpus, pids_max: plan.pids_max, disk_mb: plan.disk_mb }
}

/** Whether an instance's stored resources are exactly these. */
export function sameResources(s: InstanceResources, r: InstanceResources): boolean {
  return (
    s.memory_mb === r.memory_mb && s.cpus === r.cpus && s.pids_max === r.pids_max && s.disk_mb === r.disk_mb
  )
}

/** What a driver needs to know to run one instance. */
export interface InstanceSpec {
  id: string
  /** Host uid the sandbox runs as (local driver); unique per instance. */
  hostUid: number
  resources: InstanceResources
  /**
   * What the sandbox may reach: `public` the internet only, `allowlist` the addresses
   * `allowedHosts` resolve to (within `public`), `off` no network.
   */
  network: 'public' | 'allowlist' | 'off'
  /** Checked host names (see allowed-hosts.ts); used by `allowlist` only. */
  allowedHosts?: string[]
}

/**
 * Where the control plane listens for an instance's own calls back (its door: the model broker
 * and the scoped API). The driver vouches for the caller: only that instance can reach its door.
 */
export interface InstanceDoors {
  /**
   * Starts answering instance `instanceId` (run as host uid `hostUid`) with `handler`, before
   * its sandbox starts or when adopting it; a no-op when its door is open already.
   */
  openDoor(instanceId: string, hostUid: number, handler: DoorHandler): Promise<void>
  /** Stops answering an instance; calls in flight are cut. A no-op when its door is not open. */
  closeDoor(instanceId: string): Promise<void>
  /**
   * Whether anyone (this process or another replica) answers the instance's door now; false
   * only when it is certainly dead, so that a live door is never taken from another replica.
   */
  doorAlive(instanceId: string): Promise<boolean>
}

/** What the driver sees of a sandbox right now. */
export interface SandboxState {
  running: boolean
  /** Host pid of the sandbox's outermost process, when running. */
  pid?: number
  startedAt?: string
  /** Why it is not running, when it stopped by itself (exit code, OOM, ...). */
  reason?: string
  /** How it ended by itself, when known: its exit code, the signal that killed it, an OOM kill. */
  exitCode?: number
  signal?: string
  oomKilled?: boolean
}

/** What the host did about an instance whose workload ran away (at its pids or memory limit). */
export interface RunawayReport {
  reason: 'pids_limit' | 'memory_limit'
  /** Processes of the workload killed: commands, terminals, the gateway and its tools. */
  processes_killed: number
  pids_limit: number
  /** Forks refused at the limit while the runaway was being judged. */
  pids_limit_hits: number
  memory_limit_mb: number
  oom_kills: number
  detected_after_ms: number
}

/** Facts about the host's isolation features, for status output and `clawport doctor`. */
export interface DriverCapabilities {
  rootless: boolean
  cgroup: 'v1' | 'v2' | 'none'
  diskQuota: boolean
  notes: string[]
}

/**
 * Provisions, starts, stops and destroys instances, says how to reach their clawlet and opens
 * their door back. Everything else (exec, files, terminal, gateway) goes through the clawlet, so
 * every driver shares it.
 */
export interface InstanceDriver extends InstanceDoors {
  readonly name: string
  /** Checks the host once at start; throws with a readable reason when it cannot run sandboxes. */
  init(): Promise<DriverCapabilities>
  /** Creates the instance's persistent folders (workspace, home) and limits; idempotent. */
  provision(spec: InstanceSpec): Promise<void>
  /** Starts the sandbox with the clawlet inside; resolves once the process is launched. */
  start(spec: InstanceSpec): Promise<ClawletTransport>
  /** Stops the sandbox (SIGTERM, then SIGKILL after graceMs); the workspace is kept. */
  stop(id: string, graceMs?: number): Promise<void>
  /** Stops and removes every trace of the instance, workspace included. */
  destroy(id: string): Promise<void>
  /** Looks at a sandbox that may have been started by an earlier control-plane process. */
  inspect(id: string): Promise<SandboxState>
  /**
   * How to reach an instance's clawlet now (whether or not it is running): a Unix socket on this
   * host, or a runner's URL and token. Asked when a client first connects and after a failure.
   */
  endpoint(id: string): Promise<ClawletTransport>
  /** How many processes of the instance the kernel OOM-killed so far; null when this host cannot tell. */
  oomKills?(id: string): Promise<number | null>
  /** A bounded read of one of the instance's log files, on its own disk. */
  readLog?(id: string, read: LogRead): LogChunk | Promise<LogChunk>
  /** The running instance's usage counters; null when it is not running. */
  sampleResources?(id: string): Promise<ResourceSample | null>
  /** Calls `fn` each time the driver ended an instance's runaway workload (drivers that watch). */
  onRunaway?(fn: (instanceId: string, report: RunawayReport) => void): void
  /** A host uid for a new instance, none of `taken` (the uids instances hold already). */
  allocateUid(taken: number[]): number
  /** Learns where a just-placed instance runs (drivers that span runners). */
  place?(instanceId: string, runnerId: string | null): void
}
