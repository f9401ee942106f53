import { closeSync, existsSync, readFileSync, readlinkSync, writeSync } from 'node:fs'
import fs from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import type { Config } from '../../config.js'
import { type DoorHandler, listenUnixDoor, type UnixDoor, unixDoorAnswers } from '../../door/listen.js'
import type { UnixTransport } from '../../door/transport.js'
import type { PeerCredentials } from '../../door/unix-socket.js'
import { bindSocket, makePipe, NATIVE_DIR, requireNative } from '../../door/unix-socket.js'
import type { Logger } from '../../log.js'
import type {
  DriverCapabilities,
  InstanceDriver,
  InstanceSpec,
  RunawayReport,
  SandboxState,
} from '../driver.js'
import type { LogChunk, LogRead } from '../instance-logs.js'
import type { ResourceSample } from '../instance-metrics.js'
import { sandboxExit } from '../sandbox-exit.js'
import { buildSandboxArgs, SANDBOX_WORKLOAD_CGROUP, sandboxEnv, wrapForHost } from './bwrap.js'
import { type CgroupVersion, cpuCap, detectCgroup, InstanceCgroup, prepareCgroupParent } from './cgroups.js'
import { ensureDisk, probeDiskQuota, unmountAll } from './disk.js'
import { registerDataFolder } from './host-registry.js'
import { openSandboxLog } from './instance-files.js'
import { readInstanceLog } from './instance-log-reader.js'
import { sampleInstance } from './instance-usage.js'
import {
  childrenOf,
  type LaunchRecord,
  procStartTime,
  readStatus,
  sameProcess,
  signalProcess,
  spawnSandbox,
} from './launch.js'
import {
  type InstanceLayout,
  instanceLayout,
  REPO_ROOT,
  rootLinks,
  SANDBOX_OPT,
  sandboxHostname,
  writeEtcFiles,
} from './layout.js'
import {
  connectSandbox,
  disconnectSandbox,
  type NetworkLogs,
  nameserverFor,
  repairNetwork,
} from './network-setup.js'
import { probeSandbox, requireTool, untraversable } from './probe.js'
import { RunawayWatcher } from './runaway-watcher.js'
import { buildSeccompProgram, seccompArchSupported } from './seccomp.js'

/** The clawlet, run from the read-only runtime bound at /opt/clawport. */
export const CLAWLET_COMMAND = [`${SANDBOX_OPT}/bin/node`, `${SANDBOX_OPT}/dist/clawlet/main.js`]

export interface LocalDriverOptions {
  /** Runs this command inside instead of the clawlet (tests of the sandbox itself). */
  payload?: string[]
  /** More variables in the payload's environment (tests of what it passes on); the driver's own win. */
  env?: Record<string, string>
}

/** The payload's network pipes: it waits on the first, and the sandbox holds the second. */
const BLOCK_FD = 7
const SYNC_FD = 8

interface LaunchRecordFile extends LaunchRecord {
  oomAtStart: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Instances as bubblewrap sandboxes on this host, limited by cgroups and a loop-mounted disk. */
export class LocalDriver implements InstanceDriver {
  readonly name = 'local'
  private readonly isRoot = process.getuid?.() === 0
  private ready: Promise<DriverCapabilities> | null = null
  private cgroupVersion: CgroupVersion = 'none'
  private diskQuota = false
  private seccomp: Buffer | null = null
  /** Ends runaway workloads; watches every running instance. */
  private readonly watcher: RunawayWatcher
  private readonly runawayListeners = new Set<(id: string, report: RunawayReport) => void>()
  /** Whether instances may have a network here (root, slirp4netns, nft, nsenter). */
  private network = false
  /** Whether `allowlist` instances may have one (dnsmasq too). */
  private resolver = false
  /** Network repairs under way, so that two inspections never start two of a helper. */
  private readonly repairs = new Map<string, Promise<void>>()
  /** Instances' open doors (their control sockets), by instance id. */
  private readonly doors = new Map<string, UnixDoor>()

  constructor(
    private readonly config: Pick<Config, 'dataDir' | 'driver'>,
    private readonly log: Logger,
    private readonly options: LocalDriverOptions = {},
  ) {
    this.watcher = new RunawayWatcher(log, (id, report) => this.runaway(id, report))
  }

  init(): Promise<DriverCapabilities> {
    this.ready ??= this.checkHost().catch((err: unknown) => {
      this.ready = null
      throw err
    })
    return this.ready
  }

  private async checkHost(): Promise<DriverCapabilities> {
    const notes: string[] = []
    await requireTool('bwrap', ['--version'], 'install bubblewrap (`apt-get install bubblewrap`)')
    requireNative()
    if (this.isRoot) {
      await requireTool('setpriv', ['--version'], 'install util-linux (`apt-get install util-linux`)')
      if (this.config.driver.uidBase < 1000)
        throw new Error('CLAWPORT_UID_BASE must be 1000 or more: instances never run as system uids')
    } else notes.push('not root: every sandbox runs as the control plane user (user namespaces only)')
    const { dataDir } = this.config
    await fs.mkdir(path.join(dataDir, 'instances'), { recursive: true, mode: 0o711 })
    // Instance uids must traverse these to reach their own folders.
    await fs.chmod(dataDir, 0o711)
    await fs.chmod(path.join(dataDir, 'instances'), 0o711)
    // So that `clawport doctor --orphans` knows these instances are not orphans.
    if (this.isRoot) await registerDataFolder(dataDir)
    if (this.isRoot) {
      const blocked = [...(await untraversable(path.join(dataDir, 'x'))), ...(await untraversable(REPO_ROOT))]
      if (blocked.length) {
        throw new Error(
          `instance uids cannot reach ${[...new Set(blocked)].join(', ')}: chmod o+x them or move the data dir`,
        )
      }
    }
    if (seccompArchSupported(process.arch)) this.seccomp = buildSeccompProgram(process.arch)
    else notes.push(`no seccomp filter for ${process.arch}: ptrace, mount and TIOCSTI are not blocked`)
    // A folder of this check's own: replicas sharing the data folder check at the same time.
    const scratch = await fs.mkdtemp(path.join(dataDir, '.probe-'))
    try {
      await probeSandbox({
        scratchDir: scratch,
        seccomp: this.seccomp,
        tmpSizeBytes: 1024 * 1024,
        asUid: this.isRoot ? this.config.driver.uidBase : null,
      })
      this.network = this.isRoot && (await networkTools())
      this.resolver = this.network && (await networkTools(['dnsmasq', 'bash']))
      if (!this.network)
        notes.push(
          this.isRoot
            ? 'no instance network: install slirp4netns and nftables (`apt-get install slirp4netns nftables`)'
            : 'no instance network without root',
        )
      else if (!this.resolver)
        notes.push(
          'allowlist instances start without a network: install dnsmasq (`apt-get install dnsmasq-base`)',
        )
      const cg = await detectCgroup()
      const prepared =
        cg.version === 'none' ? null : await prepareCgroupParent(cg.version, this.cpuCapCores())
      this.cgroupVersion = prepared ? 'none' : cg.version
      for (const note of [cg.note, prepared]) if (note) notes.push(note)
      if (this.config.driver.diskQuota === 'auto') {
        const why = await probeDiskQuota(scratch)
        this.diskQuota = why === null
        if (why) notes.push(why)
      } else {
        notes.push('disk quota off (CLAWPORT_DISK_QUOTA=off)')
      }
    } finally {
      await fs.rm(scratch, { recursive: true, force: true })
    }
    if (!existsSync(path.join(REPO_ROOT, 'dist', 'clawlet', 'main.js'))) {
      notes.push('dist/clawlet/main.js missing: build the project before starting instances')
    }
    const caps: DriverCapabilities = {
      rootless: !this.isRoot,
      cgroup: this.cgroupVersion,
      diskQuota: this.diskQuota,
      notes,
    }
    this.log.info(caps, 'local driver ready')
    return caps
  }

  /** Host paths of an instance (on its disk image when it has one). */
  layout(id: string): InstanceLayout {
    const plain = instanceLayout(this.config.dataDir, id)
    const onDisk = existsSync(plain.diskImage) || (this.diskQuota && !existsSync(plain.workspace))
    return onDisk ? instanceLayout(this.config.dataDir, id, true) : plain
  }

  /**
   * The sandbox's stdout and stderr (bwrap errors, payload output), on the instance's own
   * storage: the instance can write it, so read it only with `readTail`.
   */
  logPath(id: string): string {
    return this.layout(id).log
  }

  /** The lowest free uid from CLAWPORT_UID_BASE up: every sandbox runs as a uid of its own. */
  allocateUid(taken: number[]): number {
    const used = new Set(taken)
    let uid = this.config.driver.uidBase
    while (used.has(uid)) uid++
    return uid
  }

  /** The instance's clawlet socket, in a folder no instance can write, with its peer check. */
  async endpoint(id: string): Promise<UnixTransport> {
    return this.unixEndpoint(id)
  }

  /** `endpoint`, synchronously: this host's sockets are always where the layout puts them. */
  unixEndpoint(id: string): UnixTransport {
    return {
      unix: instanceLayout(this.config.dataDir, id).socketPath,
      checkPeer: (peer) => {
        const why = this.checkPeer(id, peer)
        if (why)
          this.log.warn({ instanceId: id, peerPid: peer.pid, peerUid: peer.uid, why }, 'clawlet peer refused')
        return why
      },
    }
  }

  /** The host path of an instance's control socket, in its door folder (bound read-only inside). */
  controlPath(id: string): string {
    return instanceLayout(this.config.dataDir, id).controlPath
  }

  /** Listens on the instance's control socket; only its own uid may connect (see `listenUnixDoor`). */
  async openDoor(id: string, hostUid: number, handler: DoorHandler): Promise<void> {
    const socketPath = this.controlPath(id)
    const existing = this.doors.get(id)
    if (existing?.socketPath === socketPath && existing.listening) return
    await this.closeDoor(id)
    const door = await listenUnixDoor({
      socketPath,
      // Not root: every sandbox runs as our own uid, and the socket stays ours.
      hostUid: this.isRoot ? hostUid : null,
      handler,
      onRefused: (why) => this.log.warn({ instanceId: id, why }, 'control socket peer refused'),
    })
    this.doors.set(id, door)
  }

  async closeDoor(id: string): Promise<void> {
    const door = this.doors.get(id)
    if (!door) return
    this.doors.delete(id)
    await door.close()
  }

  async doorAlive(id: string): Promise<boolean> {
    const door = this.doors.get(id)
    if (door?.listening) return true
    return unixDoorAnswers(this.controlPath(id))
  }

  /**
   * Whether the process listening on an instance's clawlet socket is that instance's: its host
   * uid, inside the pid namespace of the sandbox the launch record names. The socket's path is
   * root's, so this is a second wall: a descriptor that leaked or a stale record fails here.
   */
  private checkPeer(id: string, peer: PeerCredentials): string | null {
    let rec: LaunchRecord
    try {
      rec = JSON.parse(readFileSync(instanceLayout(this.config.dataDir, id).record, 'utf8')) as LaunchRecord
    } catch {
      return 'it has no launch record'
    }
    const uid = rec.hostUid ?? process.getuid?.() ?? -1
    if (peer.uid !== uid) return `its peer runs as uid ${peer.uid}, not ${uid}`
    if (!sameProcess(rec.childPid, rec.childStart)) return 'its sandbox is gone'
    const ns = (pid: number) => {
      try {
        return readlinkSync(`/proc/${pid}/ns/pid`)
      } catch {
        return null
      }
    }
    const want = ns(rec.childPid)
    if (!want || ns(peer.pid) !== want) return `its peer (pid ${peer.pid}) is outside the instance's sandbox`
    return null
  }

  /** Calls `fn` each time the watcher ended an instance's runaway workload. */
  onRunaway(fn: (instanceId: string, report: RunawayReport) => void): void {
    this.runawayListeners.add(fn)
  }

  private runaway(id: string, report: RunawayReport): void {
    this.log.warn({ instanceId: id, ...report }, 'runaway processes killed')
    for (const fn of this.runawayListeners) {
      try {
        fn(id, report)
      } catch (err) {
        this.log.error({ instanceId: id, err }, 'runaway listener failed')
      }
    }
  }

  /** The most CPU one instance, and all together, may use (CLAWPORT_CPU_RESERVE kept free). */
  private cpuCapCores(): number {
    return cpuCap(availableParallelism(), this.config.driver.cpuReserve)
  }

  private cgroup(id: string): InstanceCgroup {
    return new InstanceCgroup(this.cgroupVersion, id)
  }

  async provision(spec: InstanceSpec): Promise<void> {
    await this.init()
    const l = this.layout(spec.id)
    await fs.mkdir(l.root, { recursive: true, mode: 0o711 })
    await fs.mkdir(l.state, { recursive: true, mode: 0o711 })
    await fs.chmod(l.state, 0o711)
    // The door folder is root's and bound read-only: only the control socket, made by root.
    await fs.mkdir(l.door, { recursive: true, mode: 0o711 })
    await fs.chmod(l.door, 0o711)
    if (l.run !== path.join(l.root, 'run')) {
      const disk = await ensureDisk(l.diskImage, l.diskMount, spec.resources.disk_mb)
      if (disk.grewFromMb !== undefined)
        this.log.info(
          { instanceId: spec.id, fromMb: disk.grewFromMb, toMb: spec.resources.disk_mb },
          'instance disk grown',
        )
      if (disk.note) this.log.warn({ instanceId: spec.id, note: disk.note }, 'instance disk not resized')
    }
    // Each is a direct child of a root-owned folder (the instance's root or its disk's), so no
    // instance can have put a symlink where these calls look.
    for (const dir of [l.workspace, l.home, l.run]) {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 })
      if (this.isRoot) await fs.chown(dir, spec.hostUid, spec.hostUid)
      await fs.chmod(dir, 0o700)
    }
    await writeEtcFiles(
      l.etc,
      sandboxHostname(spec.id),
      nameserverFor(spec.network, this.config.driver.networkDns),
    )
    if (this.seccomp) await fs.writeFile(l.seccomp, this.seccomp, { mode: 0o600 })
    await this.cgroup(spec.id).apply(spec.resources, {
      cpuCapCores: this.cpuCapCores(),
      hostUid: this.isRoot ? spec.hostUid : null,
    })
  }

  async start(spec: InstanceSpec): Promise<UnixTransport> {
    const command = this.options.payload ?? CLAWLET_COMMAND
    if (!this.options.payload && !existsSync(path.join(REPO_ROOT, 'dist', 'clawlet', 'main.js'))) {
      throw new Error('dist/clawlet/main.js is missing: build the project first')
    }
    await this.launch(spec, command, { listen: true })
    return this.unixEndpoint(spec.id)
  }

  /**
   * Starts instance `spec` with `command` as its payload; a no-op when it already runs. With
   * `listen`, the payload inherits the clawlet's socket as fd 6 (CLAWLET_LISTEN_FD).
   */
  async launch(
    spec: InstanceSpec,
    command: string[],
    opts: { listen?: boolean } = {},
  ): Promise<LaunchRecord> {
    // Never let a bad spec make bwrap run as host root or a system account.
    if (this.isRoot && !(Number.isInteger(spec.hostUid) && spec.hostUid >= 1000 && spec.hostUid < 2 ** 31)) {
      throw new Error(`refusing host uid ${spec.hostUid} for instance ${spec.id}`)
    }
    const running = await this.readRecord(spec.id)
    if (running && this.payloadRunning(running)) {
      this.watcher.watch(spec.id, this.cgroup(spec.id))
      return running
    }
    // What is left of a sandbox whose clawlet died (its init, kept by orphans) goes first.
    if (running && this.alive(running)) await this.stop(spec.id, 0)
    await this.provision(spec)
    const l = this.layout(spec.id)
    const cgroup = this.cgroup(spec.id)
    await cgroup.killAll()
    const withRuntime = existsSync(path.join(REPO_ROOT, 'dist'))
    const network =
      spec.network !== 'off' && this.network && (spec.network !== 'allowlist' || this.resolver)
        ? spec.network
        : null
    if (spec.network !== 'off' && !network)
      this.log.warn({ instanceId: spec.id }, 'instance starts without its network: this host cannot give one')
    const args = buildSandboxArgs({
      hostname: sandboxHostname(spec.id),
      tmpSizeBytes: this.config.driver.tmpSizeMb * 1024 * 1024,
      seccompFd: this.seccomp ? 3 : undefined,
      statusFd: 4,
      network: network ? { blockFd: BLOCK_FD, syncFd: SYNC_FD } : undefined,
      rootLinks: await rootLinks(),
      folders: { workspace: l.workspace, home: l.home, run: l.run, door: l.door },
      etcDir: l.etc,
      runtime: withRuntime
        ? {
            execPath: process.execPath,
            repoRoot: REPO_ROOT,
            nativeDir: NATIVE_DIR,
            openclawDir: existsSync(this.config.driver.openclawDir)
              ? this.config.driver.openclawDir
              : undefined,
          }
        : undefined,
      env: {
        ...this.options.env,
        ...sandboxEnv(spec.id),
        ...workloadEnv(cgroup),
        CLAWPORT_DESKTOP: this.config.driver.desktop,
        CLAWPORT_DESKTOP_GEOMETRY: `${this.config.driver.desktopGeometry.width}x${this.config.driver.desktopGeometry.height}`,
        CLAWLET_GATEWAY_LIVENESS_MS: String(this.config.driver.gatewayLivenessMs),
      },
      workloadProcs: cgroup.workloadBinds(),
      command,
    })
    // bwrap reads its arguments from fd 5: inside the sandbox its pid 1's command line would
    // otherwise show host paths (the data folder, the instance's folders).
    // The command after `--` stays on the command line, where bwrap expects it.
    const sep = args.indexOf('--')
    const argsFile = path.join(path.dirname(l.status), 'bwrap.args')
    await fs.writeFile(argsFile, `${args.slice(0, sep).join('\0')}\0`, { mode: 0o600 })
    const cmd = wrapForHost(
      ['--args', '5', ...args.slice(sep)],
      this.isRoot ? { uid: spec.hostUid, cgroupProcs: cgroup.procsFiles('door') } : null,
      SYNC_FD,
      this.config.driver.sandboxOpenFiles,
    )
    // The clawlet's socket is bound here, in root's state folder, and handed in: whatever runs
    // inside can neither move it nor point the control plane anywhere else.
    await fs.rm(l.socketPath, { force: true })
    const listenFd = opts.listen ? bindSocket(l.socketPath) : undefined
    // With a network the payload waits on the block pipe while the host sets it up; the sync
    // pipe's write end stays in the sandbox, so its slirp4netns leaves with it.
    const block = network ? makePipe() : undefined
    const sync = network ? makePipe() : undefined
    let logFd: number
    try {
      logFd = openSandboxLog(l.log, this.isRoot ? spec.hostUid : null)
    } catch (err) {
      for (const fd of [listenFd, ...(block ?? []), ...(sync ?? [])]) if (fd !== undefined) closeSync(fd)
      throw err
    }
    const oomAtStart = await cgroup.oomKills()
    const t0 = performance.now()
    const record = await spawnSandbox({
      file: cmd.file,
      args: cmd.args,
      seccompFile: this.seccomp ? l.seccomp : '/dev/null',
      statusFile: l.status,
      logFd,
      logFile: l.log,
      extraFds: [listenFd, block?.[0], sync?.[1]],
      argsFile,
      seccompFd: 3,
      statusFd: 4,
      hostUid: this.isRoot ? spec.hostUid : null,
    })
    if (block && sync && network) {
      try {
        const plan = {
          mode: network,
          allowedHosts: spec.allowedHosts ?? [],
          dns: this.config.driver.networkDns,
        }
        await connectSandbox(record, plan, sync[0], this.networkLogs(spec.id))
        // The network is up: let the payload run.
        writeSync(block[1], 'x')
      } catch (err) {
        await this.writeRecord(spec.id, { ...record, oomAtStart })
        await this.stop(spec.id, 0).catch(() => {})
        throw err
      } finally {
        closeSync(sync[0])
        closeSync(block[1])
      }
    }
    await this.writeRecord(spec.id, { ...record, oomAtStart })
    this.log.info(
      {
        instanceId: spec.id,
        pid: record.pid,
        network: network ?? 'off',
        launchMs: Math.round(performance.now() - t0),
      },
      'sandbox started',
    )
    return record
  }

  private networkLogs(id: string): NetworkLogs {
    const slirp = instanceLayout(this.config.dataDir, id).slirpLog
    return { slirp, keeper: path.join(path.dirname(slirp), 'keeper.log') }
  }

  /** A bounded read of one of the instance's log files, on its own disk. */
  readLog(id: string, read: LogRead): LogChunk {
    return readInstanceLog(this.layout(id), read)
  }

  /** The running instance's usage counters; null when it is not running. */
  async sampleResources(id: string): Promise<ResourceSample | null> {
    const rec = await this.readRecord(id)
    if (!rec || !this.payloadRunning(rec)) return null
    return sampleInstance(this.layout(id), this.cgroup(id), rec.pid)
  }

  oomKills(id: string): Promise<number | null> {
    return this.cgroupVersion === 'none' ? Promise.resolve(null) : this.cgroup(id).oomKills()
  }

  async inspect(id: string): Promise<SandboxState> {
    const rec = await this.readRecord(id)
    if (!rec) return { running: false }
    // Also how a restarted server takes back the watch over sandboxes it did not start.
    if (this.payloadRunning(rec)) this.watcher.watch(id, this.cgroup(id))
    if (this.payloadRunning(rec)) {
      if (await this.keepNetwork(id, rec)) return { running: true, pid: rec.pid, startedAt: rec.startedAt }
      await this.stop(id, 0)
      return { running: false, reason: 'killed (its network was lost)' }
    }
    if (rec.stopped && !this.alive(rec)) return { running: false, reason: 'stopped' }
    const { exitCode } = readStatus(instanceLayout(this.config.dataDir, id).status)
    return sandboxExit(exitCode, (await this.cgroup(id).oomKills()) > rec.oomAtStart)
  }

  /**
   * Restarts a running sandbox's slirp4netns or resolver when one died (this is how a server
   * that restarts takes them back too); false when neither is left to tie a new one to the
   * sandbox, which then has to start again.
   */
  private async keepNetwork(id: string, rec: LaunchRecordFile): Promise<boolean> {
    if (!rec.network) return true
    const pending = this.repairs.get(id)
    if (pending) await pending.catch(() => {})
    const current = (await this.readRecord(id)) ?? rec
    const repair = repairNetwork(current, this.networkLogs(id)).then(async (changed) => {
      if (!changed) return
      await this.writeRecord(id, current)
      this.log.warn({ instanceId: id }, 'sandbox network helper restarted')
    })
    this.repairs.set(id, repair)
    try {
      await repair
      return true
    } catch (err) {
      this.log.error({ instanceId: id, err }, 'sandbox network lost')
      return false
    } finally {
      if (this.repairs.get(id) === repair) this.repairs.delete(id)
    }
  }

  /** Waits until the sandbox has exited; returns its exit code (null when unknown). */
  async waitForExit(id: string, timeoutMs = 30_000): Promise<number | null> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const rec = await this.readRecord(id)
      if (!rec || !this.alive(rec)) {
        // The monitor writes the exit code just before it exits.
        return readStatus(instanceLayout(this.config.dataDir, id).status).exitCode ?? null
      }
      if (Date.now() > deadline) throw new Error(`sandbox ${id} still running after ${timeoutMs} ms`)
      await sleep(5)
    }
  }

  async stop(id: string, graceMs = 5000): Promise<void> {
    await this.init()
    this.watcher.unwatch(id)
    const rec = await this.readRecord(id)
    if (rec && this.alive(rec)) {
      // The payload is the child of the namespace's init (bwrap's reaper); init exits with it.
      // Rescanned during the grace period: right after launch the payload may not be forked yet.
      const termed = new Set<number>()
      const deadline = Date.now() + graceMs
      while (sameProcess(rec.childPid, rec.childStart) && Date.now() < deadline) {
        for (const pid of await childrenOf(rec.childPid)) {
          if (termed.has(pid)) continue
          termed.add(pid)
          try {
            process.kill(pid, 'SIGTERM')
          } catch {}
        }
        await sleep(10)
      }
      // SIGKILL to a pid namespace's init kills every process in that namespace.
      signalProcess(rec.childPid, rec.childStart, 'SIGKILL')
      // The monitor reaps the namespace's init, records the exit and leaves by itself; killing
      // it first would orphan init's zombie to the host's pid 1.
      const outerDeadline = Date.now() + 2000
      while (this.alive(rec) && Date.now() < outerDeadline) await sleep(5)
      signalProcess(rec.pid, rec.pidStart, 'SIGKILL')
      // They leave by themselves once the sandbox's sync pipe closes; this makes sure.
      disconnectSandbox(rec)
      await this.cgroup(id).killAll()
      while (this.alive(rec)) await sleep(5)
      // Give the monitor's parent a moment to reap it, so no zombie of the uid lingers.
      const reapDeadline = Date.now() + 1000
      while (existsSync(`/proc/${rec.pid}`) && procStartTime(rec.pid) === null && Date.now() < reapDeadline)
        await sleep(5)
      this.log.info({ instanceId: id }, 'sandbox stopped')
    } else {
      await this.cgroup(id).killAll()
      // A resolver its keeper left behind outlives the sandbox: it holds the namespace.
      if (rec) disconnectSandbox(rec)
    }
    if (rec && !rec.stopped) await this.writeRecord(id, { ...rec, stopped: true })
  }

  async destroy(id: string): Promise<void> {
    await this.stop(id, 1000)
    await this.cgroup(id).remove()
    const root = instanceLayout(this.config.dataDir, id).root
    if (this.isRoot) await unmountAll(root)
    await fs.rm(root, { recursive: true, force: true })
    this.log.info({ instanceId: id }, 'instance destroyed')
  }

  /**
   * Whether the payload (the clawlet) still runs. The monitor (the outer bwrap) leaves as soon as
   * the payload dies, while the namespace's init lingers as long as any orphan does (a desktop,
   * a background command): init alone is a sandbox without its clawlet, which stop() clears.
   */
  private payloadRunning(rec: LaunchRecord): boolean {
    return sameProcess(rec.pid, rec.pidStart) && sameProcess(rec.childPid, rec.childStart)
  }

  /** Whether any process of the sandbox (monitor or namespace) is left. */
  private alive(rec: LaunchRecord): boolean {
    return sameProcess(rec.childPid, rec.childStart) || sameProcess(rec.pid, rec.pidStart)
  }

  private async readRecord(id: string): Promise<LaunchRecordFile | null> {
    const file = instanceLayout(this.config.dataDir, id).record
    try {
      return JSON.parse(await fs.readFile(file, 'utf8')) as LaunchRecordFile
    } catch {
      return null
    }
  }

  private async writeRecord(id: string, rec: LaunchRecordFile): Promise<void> {
    const file = instanceLayout(this.config.dataDir, id).record
    await fs.writeFile(`${file}.tmp`, JSON.stringify(rec), { mode: 0o600 })
    await fs.rename(`${file}.tmp`, file)
  }
}

/** Whether these tools (by default slirp4netns, nft, nsenter and unshare) are on the PATH. */
async function networkTools(tools = ['slirp4netns', 'nft', 'nsenter', 'unshare']): Promise<boolean> {
  for (const tool of tools) {
    const found = await Promise.any(
      ['/usr/bin', '/usr/sbin', '/bin', '/sbin', '/usr/local/bin', '/usr/local/sbin'].map((d) =>
        fs.access(path.join(d, tool)).then(() => true),
      ),
    ).catch(() => false)
    if (!found) return false
  }
  return true
}

/** Tells the clawlet where to place what it starts: the workload cgroup's procs files inside. */
function workloadEnv(cgroup: InstanceCgroup): Record<string, string> {
  const binds = cgroup.workloadBinds()
  if (!binds.length) return {}
  return { CLAWLET_WORKLOAD_PROCS: binds.map((b) => `${SANDBOX_WORKLOAD_CGROUP}/${b.name}`).join(':') }
}
