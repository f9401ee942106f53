import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../src/config.js'
import { ClawletClient, waitForHealth } from '../../src/door/clawlet/client.js'
import type { InstanceSpec } from '../../src/drivers/driver.js'
import { LocalDriver } from '../../src/drivers/local/local-driver.js'
import { createLogger } from '../../src/log.js'

/** The repository root (this file is test/helpers/sandbox.ts). */
export const REPO = path.resolve(import.meta.dirname, '../..')

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

/** A clawlet in an instance the local driver started, as production starts one, with its host-side folders. */
export interface TestSandbox {
  id: string
  /** The instance's folder on the host. */
  root: string
  workspace: string
  home: string
  /** The host side of the sandbox's /run/clawport (the clawlet's own logs). */
  run: string
  socketPath: string
  /** A client through the driver's endpoint (its peer check included). */
  client: ClawletClient
  /** Everything the clawlet wrote to stderr so far (the sandbox's log). */
  stderr: () => string
  stop: () => Promise<void>
}

/**
 * Provisions and starts an instance through the local driver (seccomp, user namespace, cgroups,
 * its own disk, network off) and waits for its clawlet's health. `env` is added to the clawlet's
 * environment; `smallDiskBytes` mounts a tmpfs that size at /workspace/small, to run out of
 * disk space for real.
 */
export async function startSandbox(
  opts: { env?: Record<string, string>; smallDiskBytes?: number } = {},
): Promise<TestSandbox> {
  buildOnce()
  const dataDir = await mkdtemp(path.join(tmpdir(), 'clawlet-test-'))
  const uidBase = 300_000 + Math.floor(Math.random() * 5000) * 100
  const config = loadConfig({}, { dataDir, driver: { uidBase, tmpSizeMb: 64 } })
  const driver = new LocalDriver(config, createLogger('silent'), { env: opts.env })
  // Room for the 100 MB transfers and 16 MiB output captures the clawlet tests make (CPU capped
  // as for every instance, at the host's cores less CLAWPORT_CPU_RESERVE).
  const spec: InstanceSpec = {
    id: `clawlet-${process.pid}`,
    hostUid: uidBase + 1,
    resources: { memory_mb: 1024, cpus: 2, pids_max: 256, disk_mb: 256 },
    network: 'off',
  }
  const layout = () => driver.layout(spec.id)
  const small = () => path.join(layout().workspace, 'small')
  const smallBytes = opts.smallDiskBytes ?? 0
  let mounted = false
  // Found through the driver's endpoint, as the control plane's clients find theirs.
  const client = new ClawletClient({ transport: () => driver.endpoint(spec.id), label: 'test-instance' })
  const stderr = () => {
    try {
      return readFileSync(driver.logPath(spec.id), 'utf8')
    } catch {
      return ''
    }
  }
  const stop = async () => {
    client.close()
    await driver.stop(spec.id, 3_000)
    if (mounted) execFileSync('umount', ['-l', small()])
    await driver.destroy(spec.id)
    await rm(dataDir, { recursive: true, force: true })
  }
  try {
    await driver.provision(spec)
    if (smallBytes > 0) {
      await mkdir(small())
      execFileSync('mount', [
        '-t',
        'tmpfs',
        '-o',
        `size=${smallBytes},uid=${spec.hostUid},gid=${spec.hostUid}`,
        'tmpfs',
        small(),
      ])
      mounted = true
    }
    await driver.start(spec)
    await waitForHealth(client, 10_000)
  } catch (err) {
    const log = stderr()
    await stop()
    throw new Error(`clawlet did not start: ${String(err)}\n${log}`)
  }
  const l = layout()
  return {
    id: spec.id,
    root: l.root,
    workspace: l.workspace,
    home: l.home,
    run: l.run,
    socketPath: l.socketPath,
    client,
    stderr,
    stop,
  }
}
