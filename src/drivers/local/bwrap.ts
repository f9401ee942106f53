import { existsSync } from 'node:fs'
import path from 'node:path'
import {
  CLAWLET_LISTEN_FD,
  GENERATED_ETC,
  HOST_ETC,
  SANDBOX_DOOR,
  SANDBOX_HOME,
  SANDBOX_OPENCLAW,
  SANDBOX_OPT,
  SANDBOX_RUN,
  SANDBOX_UID,
  SANDBOX_USER,
} from './layout.js'

/** Everything that varies between two sandboxes' bwrap command lines. */
export interface SandboxArgsOptions {
  hostname: string
  tmpSizeBytes: number
  /** The child's fd numbers for the seccomp program and the JSON status stream. */
  seccompFd?: number
  statusFd?: number
  /** With a network: the payload waits on `blockFd` until the host has set the network up. */
  network?: { blockFd: number; syncFd: number }
  /** Merged-/usr entries of the host (see `rootLinks`). */
  rootLinks: Array<{ name: string; link?: string; dir?: boolean }>
  /** The instance's own folders; omitted for the host probe. */
  folders?: { workspace: string; home: string; run: string; door: string }
  /**
   * The host's procs files of the instance's workload cgroup (one per v1 hierarchy), bound
   * writable at SANDBOX_WORKLOAD_CGROUP/<name>: the clawlet places what it starts there.
   */
  workloadProcs?: Array<{ name: string; file: string }>
  /** Folder holding the generated passwd, group, hosts, hostname. */
  etcDir?: string
  /** The Node runtime and the built control plane, bound read-only at /opt/clawport. */
  runtime?: { execPath: string; repoRoot: string; nativeDir: string; openclawDir?: string }
  env?: Record<string, string>
  command: string[]
}

/** Where the workload cgroup's procs files appear inside a sandbox. */
export const SANDBOX_WORKLOAD_CGROUP = '/run/workload-cgroup'

/** The clean environment of a sandbox's payload. */
export function sandboxEnv(instanceId: string): Record<string, string> {
  return {
    HOME: SANDBOX_HOME,
    USER: SANDBOX_USER,
    LOGNAME: SANDBOX_USER,
    PATH: `/usr/local/bin:/usr/bin:/bin:${SANDBOX_OPT}/bin`,
    LANG: 'C.UTF-8',
    CLAWLET_SOCKET: `${SANDBOX_RUN}/clawlet.sock`,
    CLAWLET_LISTEN_FD: String(CLAWLET_LISTEN_FD),
    CLAWLET_CONTROL_SOCKET: `${SANDBOX_DOOR}/control.sock`,
    CLAWPORT_INSTANCE_ID: instanceId,
  }
}

/** Builds bwrap's arguments (without `bwrap` itself): isolation flags, filesystem, env, command. */
export function buildSandboxArgs(o: SandboxArgsOptions): string[] {
  const a: string[] = [
    '--unshare-user',
    '--uid',
    String(SANDBOX_UID),
    '--gid',
    String(SANDBOX_UID),
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-net',
    '--hostname',
    o.hostname,
    '--cap-drop',
    'ALL',
    '--disable-userns',
  ]
  if (o.seccompFd !== undefined) a.push('--seccomp', String(o.seccompFd))
  if (o.statusFd !== undefined) a.push('--json-status-fd', String(o.statusFd))
  // The sync fd stays open while the sandbox runs: its slirp4netns leaves when it closes.
  if (o.network) a.push('--block-fd', String(o.network.blockFd), '--sync-fd', String(o.network.syncFd))
  a.push('--ro-bind', '/usr', '/usr')
  for (const entry of o.rootLinks) {
    if (entry.link) a.push('--symlink', entry.link, `/${entry.name}`)
    else if (entry.dir) a.push('--ro-bind', `/${entry.name}`, `/${entry.name}`)
  }
  for (const name of HOST_ETC) {
    const p = path.join('/etc', name)
    if (existsSync(p)) a.push('--ro-bind', p, p)
  }
  if (o.etcDir) {
    for (const name of GENERATED_ETC) a.push('--ro-bind', path.join(o.etcDir, name), `/etc/${name}`)
  }
  a.push('--proc', '/proc', '--dev', '/dev', '--size', String(o.tmpSizeBytes), '--tmpfs', '/tmp')
  if (o.folders) {
    a.push(
      '--bind',
      o.folders.workspace,
      '/workspace',
      '--bind',
      o.folders.home,
      SANDBOX_HOME,
      '--bind',
      o.folders.run,
      SANDBOX_RUN,
      // Root-owned and read-only: the control socket's name cannot be swapped from inside.
      '--ro-bind',
      o.folders.door,
      SANDBOX_DOOR,
    )
  }
  for (const p of o.workloadProcs ?? []) a.push('--bind', p.file, `${SANDBOX_WORKLOAD_CGROUP}/${p.name}`)
  if (o.runtime) {
    const r = o.runtime.repoRoot
    a.push(
      '--ro-bind',
      o.runtime.execPath,
      `${SANDBOX_OPT}/bin/node`,
      '--ro-bind',
      path.join(r, 'dist'),
      `${SANDBOX_OPT}/dist`,
      '--ro-bind',
      path.join(r, 'node_modules'),
      `${SANDBOX_OPT}/node_modules`,
      '--ro-bind',
      path.join(r, 'package.json'),
      `${SANDBOX_OPT}/package.json`,
      '--ro-bind',
      o.runtime.nativeDir,
      path.join(SANDBOX_OPT, path.relative(r, o.runtime.nativeDir)),
    )
    // The shared OpenClaw install: one copy per host, never writable from an instance.
    if (o.runtime.openclawDir) a.push('--ro-bind', o.runtime.openclawDir, SANDBOX_OPENCLAW)
  }
  a.push('--chdir', o.folders ? '/workspace' : '/')
  a.push('--clearenv')
  for (const [k, v] of Object.entries(o.env ?? {})) a.push('--setenv', k, v)
  // Last of the filesystem steps: everything not bound read-write becomes read-only.
  a.push('--remount-ro', '/')
  a.push('--', ...o.command)
  return a
}

/**
 * The command that starts bwrap. A bash wrapper first closes every descriptor above the ones
 * handed over (0 to `keepFds`): descriptors the control plane inherited without close-on-exec
 * would otherwise reach into the sandbox. It bounds open files per process (soft and hard, so
 * nothing inside can raise it), instead of the control plane's own limit. As root it then
 * writes its own pid into each of the instance's door cgroups before it execs, so nothing of the
 * payload ever runs outside its limits, and setpriv drops to the instance's unprivileged host
 * uid so bwrap never runs as host root.
 */
export function wrapForHost(
  bwrapArgs: string[],
  asRoot: { uid: number; cgroupProcs: string[] } | null,
  keepFds = 4,
  openFilesMax = 4096,
): { file: string; args: string[] } {
  if (!Number.isInteger(openFilesMax) || openFilesMax < 64)
    throw new Error(`bad open files limit ${openFilesMax}`)
  const closeFds = `for f in /proc/$$/fd/*; do n=\${f##*/}; [ "$n" -gt ${keepFds} ] 2>/dev/null && eval "exec $n>&-"; done; h=$(ulimit -Hn); [ "$h" = unlimited ] || [ "$h" -gt ${openFilesMax} ] && h=${openFilesMax}; ulimit -n "$h" || exit 125; `
  if (!asRoot)
    return { file: '/bin/bash', args: ['-c', `${closeFds}exec "$@"`, 'bwrap', 'bwrap', ...bwrapArgs] }
  const joins = asRoot.cgroupProcs.map((f) => `echo $$ > ${shellQuote(f)} || exit 125; `).join('')
  const setpriv = [
    'setpriv',
    `--reuid=${asRoot.uid}`,
    `--regid=${asRoot.uid}`,
    '--clear-groups',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--',
    'bwrap',
  ]
  return {
    file: '/bin/bash',
    args: ['-c', `${closeFds}${joins}exec "$@"`, 'sandbox', ...setpriv, ...bwrapArgs],
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}
