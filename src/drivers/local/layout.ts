import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root: this file is `<root>/{src,dist}/drivers/local/layout.{ts,js}`. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

/** The user every sandbox sees itself as. */
export const SANDBOX_UID = 1000
export const SANDBOX_USER = 'claw'
export const SANDBOX_HOME = '/home/claw'
export const SANDBOX_RUN = '/run/clawport'
/** The instance's door folder, bound read-only: the control socket the control plane listens on. */
export const SANDBOX_DOOR = '/run/clawport-door'
/** The descriptor the clawlet inherits its listening socket on. */
export const CLAWLET_LISTEN_FD = 6
export const SANDBOX_OPT = '/opt/clawport'
/** Where the shared OpenClaw runtime is bound read-only inside every sandbox. */
export const SANDBOX_OPENCLAW = '/opt/openclaw'

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/

/** Instance ids end up in paths, cgroup names and a shell line: only a safe alphabet. */
export function assertInstanceId(id: string): void {
  if (!ID_PATTERN.test(id)) throw new Error(`invalid instance id ${JSON.stringify(id)}`)
}

/** Every host path of one instance. */
export interface InstanceLayout {
  root: string
  /** Sandbox-owned folders, bound inside. With a disk quota they live on the disk image. */
  workspace: string
  home: string
  run: string
  /**
   * Root-owned and never bound writable: the clawlet's socket (bound here by the driver and
   * handed in as a descriptor) and, in `door`, the control socket. An instance cannot rename,
   * replace or link anything on these paths.
   */
  socketPath: string
  door: string
  controlPath: string
  /** Disk quota: the sparse image and its mount point. */
  diskImage: string
  diskMount: string
  /**
   * Driver-private files (launch record, bwrap status, seccomp program, generated /etc,
   * the clawlet's socket): root-owned and never writable from inside, so a sandbox cannot forge the pid the
   * driver will later signal or plant a symlink where the driver writes as root.
   */
  state: string
  etc: string
  record: string
  status: string
  /** The sandbox's stdout and stderr: on the instance's own storage (its disk, when quotas are on). */
  log: string
  seccomp: string
  /** slirp4netns's output, root's. */
  slirpLog: string
}

/** Paths of instance `id` under `<dataDir>/instances/<id>`. */
export function instanceLayout(dataDir: string, id: string, onDisk = false): InstanceLayout {
  assertInstanceId(id)
  const root = path.join(dataDir, 'instances', id)
  const diskMount = path.join(root, 'disk')
  const base = onDisk ? diskMount : root
  const state = path.join(root, 'state')
  const door = path.join(root, 'door')
  const run = path.join(base, 'run')
  return {
    root,
    workspace: path.join(base, 'workspace'),
    home: path.join(base, 'home'),
    run,
    socketPath: path.join(state, 'clawlet.sock'),
    door,
    controlPath: path.join(door, 'control.sock'),
    diskImage: path.join(root, 'disk.img'),
    diskMount,
    state,
    etc: path.join(state, 'etc'),
    record: path.join(state, 'sandbox.json'),
    status: path.join(state, 'bwrap-status.json'),
    log: path.join(run, 'sandbox.log'),
    seccomp: path.join(state, 'seccomp.bpf'),
    slirpLog: path.join(state, 'slirp.log'),
  }
}

/** A short hostname for the sandbox's UTS namespace. */
export function sandboxHostname(id: string): string {
  const short = id
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 24)
    .replace(/-+$/, '')
  return `claw-${short || 'x'}`
}

/** Host /etc entries programs commonly need; bound read-only when they exist. */
export const HOST_ETC = [
  'ssl',
  'ca-certificates',
  'alternatives',
  'ld.so.cache',
  'localtime',
  'mime.types',
  'bash.bashrc',
  'profile',
  'inputrc',
  'terminfo',
  'nsswitch.conf',
  'fonts',
]

/** Files generated per instance and bound over /etc inside. */
export const GENERATED_ETC = ['passwd', 'group', 'hosts', 'hostname', 'resolv.conf'] as const

/** Writes the instance's own passwd, group, hosts, hostname and resolv.conf into `etcDir`. */
export async function writeEtcFiles(
  etcDir: string,
  hostname: string,
  nameserver = '10.0.2.3',
): Promise<void> {
  await fs.mkdir(etcDir, { recursive: true, mode: 0o755 })
  await fs.chmod(etcDir, 0o755)
  const u = SANDBOX_UID
  const files: Record<(typeof GENERATED_ETC)[number], string> = {
    passwd: `root:x:0:0:root:/root:/usr/sbin/nologin\n${SANDBOX_USER}:x:${u}:${u}:${SANDBOX_USER}:${SANDBOX_HOME}:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
    group: `root:x:0:\n${SANDBOX_USER}:x:${u}:\nnogroup:x:65534:\n`,
    hosts: `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`,
    hostname: `${hostname}\n`,
    // slirp4netns's DNS forwarder by default, an allowlist's own resolver; without a network
    // nothing answers there.
    'resolv.conf': `nameserver ${nameserver}\n`,
  }
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(etcDir, name)
    // Replace rather than rewrite in place: a running sandbox keeps its bound inode.
    await fs.writeFile(`${file}.tmp`, text, { mode: 0o644 })
    await fs.rename(`${file}.tmp`, file)
  }
}

/** The host's merged-/usr layout: top-level entries that are symlinks into /usr or real dirs. */
export async function rootLinks(): Promise<Array<{ name: string; link?: string; dir?: boolean }>> {
  const out: Array<{ name: string; link?: string; dir?: boolean }> = []
  for (const name of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    const p = `/${name}`
    const st = await fs.lstat(p).catch(() => null)
    if (!st) continue
    if (st.isSymbolicLink()) out.push({ name, link: await fs.readlink(p) })
    else if (st.isDirectory()) out.push({ name, dir: true })
  }
  return out
}
