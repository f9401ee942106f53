import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ClawletClient, waitForHealth } from '../../src/clawlet/client.js'

/** The repository root (this file is test/helpers/sandbox.ts). */
export const REPO = path.resolve(import.meta.dirname, '../..')

/** Host uid the test sandboxes run as; chosen away from the range the driver hands out. */
export const TEST_UID = 201_990

let built = false

/** Compiles the project once per test process so the sandbox runs the current clawlet. */
export function buildOnce(): void {
  if (built) return
  // The run's global setup built it already.
  if (process.env.CLAWPORT_TEST_BUILT === '1') built = true
  if (!built) {
    try {
      execFileSync(path.join(REPO, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], {
        cwd: REPO,
        stdio: 'pipe',
      })
    } catch {
      // Type errors elsewhere in the tree do not stop tsc from emitting.
    }
  }
  if (!existsSync(path.join(REPO, 'dist/clawlet/main.js')))
    throw new Error('the build did not emit the clawlet')
  built = true
}

/** A clawlet running in a real bubblewrap sandbox, with its host-side folders. */
export interface TestSandbox {
  root: string
  workspace: string
  home: string
  socketPath: string
  client: ClawletClient
  proc: ChildProcess
  /** Everything the clawlet wrote to stderr so far. */
  stderr: () => string
  stop: () => Promise<void>
}

/** Starts the built clawlet inside a bwrap sandbox as an unprivileged uid and waits for its health. */
export async function startSandbox(
  opts: { env?: Record<string, string>; smallDiskBytes?: number } = {},
): Promise<TestSandbox> {
  buildOnce()
  const root = await mkdtemp(path.join(tmpdir(), 'clawlet-test-'))
  await chmod(root, 0o755)
  const workspace = path.join(root, 'workspace')
  const home = path.join(root, 'home')
  const run = path.join(root, 'run')
  const small = path.join(root, 'small')
  for (const dir of [workspace, home, run, small]) {
    await mkdir(dir)
    await chown(dir, TEST_UID, TEST_UID)
  }
  // A tiny tmpfs seen as /small inside, to run the instance out of disk space for real.
  const smallBytes = opts.smallDiskBytes ?? 0
  if (smallBytes > 0) {
    execFileSync('mount', [
      '-t',
      'tmpfs',
      '-o',
      `size=${smallBytes},uid=${TEST_UID},gid=${TEST_UID}`,
      'tmpfs',
      small,
    ])
  }
  // biome-ignore format: flags grouped the way bwrap's manual groups them
  const args = [
    '--reuid', String(TEST_UID), '--regid', String(TEST_UID), '--clear-groups',
    'bwrap',
    '--unshare-user', '--uid', '1000', '--gid', '1000',
    '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-net',
    '--cap-drop', 'ALL', '--disable-userns', '--die-with-parent',
    '--ro-bind', '/usr', '/usr',
    '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64',
    '--ro-bind', '/etc', '/etc',
    '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
    '--bind', workspace, '/workspace',
    '--bind', home, '/home/claw',
    '--bind', run, '/run/clawport',
    '--bind', small, '/small',
    '--ro-bind', process.execPath, '/opt/clawport/bin/node',
    '--ro-bind', path.join(REPO, 'dist'), '/opt/clawport/dist',
    '--ro-bind', path.join(REPO, 'node_modules'), '/opt/clawport/node_modules',
    '--ro-bind', path.join(REPO, 'package.json'), '/opt/clawport/package.json',
    '--remount-ro', '/',
    '--chdir', '/workspace',
    '--', '/opt/clawport/bin/node', '/opt/clawport/dist/clawlet/main.js',
  ]
  const proc = spawn('setpriv', args, {
    env: { PATH: '/usr/bin:/bin', CLAWLET_SOCKET: '/run/clawport/clawlet.sock', ...opts.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const socketPath = path.join(run, 'clawlet.sock')
  const client = new ClawletClient({ transport: { unix: socketPath }, label: 'test-instance' })
  const stop = async () => {
    client.close()
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((resolve) => proc.once('exit', resolve))
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3_000)
      await exited
      clearTimeout(timer)
    }
    if (smallBytes > 0) execFileSync('umount', ['-l', small])
    await rm(root, { recursive: true, force: true })
  }
  try {
    const exited = new Promise<never>((_resolve, reject) =>
      proc.once('exit', (code) => reject(new Error(`the sandbox exited with ${code}`))),
    )
    await Promise.race([waitForHealth(client, 10_000), exited])
  } catch (err) {
    await stop()
    throw new Error(`clawlet did not start: ${String(err)}\n${stderr}`)
  }
  return { root, workspace, home, socketPath, client, proc, stderr: () => stderr, stop }
}
