import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { type Config, type ConfigOverrides, loadConfig } from '../../src/config.js'
import type { InstanceResources, InstanceSpec } from '../../src/drivers/driver.js'
import { LocalDriver } from '../../src/drivers/local/local-driver.js'
import { createLogger } from '../../src/log.js'
import { waitFor } from './wait.js'

export const execFileP = promisify(execFile)

export const SMALL: InstanceResources = { memory_mb: 256, cpus: 1, pids_max: 128, disk_mb: 64 }

/** A local driver on a fresh data dir, with host uids no other test run uses. */
export async function makeDriver(overrides: ConfigOverrides = {}): Promise<{
  driver: LocalDriver
  config: Config
  spec: (name: string, resources?: Partial<InstanceResources>) => InstanceSpec
  cleanup: () => Promise<void>
}> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'clawport-sbx-'))
  const uidBase = 300_000 + Math.floor(Math.random() * 5000) * 100
  const config = loadConfig(
    {},
    { dataDir, ...overrides, driver: { uidBase, tmpSizeMb: 64, ...overrides.driver } },
  )
  const driver = new LocalDriver(config, createLogger('silent'))
  const ids: string[] = []
  let next = 1
  const spec = (name: string, resources: Partial<InstanceResources> = {}): InstanceSpec => {
    const id = `${name}-${process.pid}`
    ids.push(id)
    // Driver tests never reach beyond this machine.
    return { id, hostUid: uidBase + next++, resources: { ...SMALL, ...resources }, network: 'off' }
  }
  const cleanup = async () => {
    for (const id of ids) await driver.destroy(id).catch(() => {})
    await fs.rm(dataDir, { recursive: true, force: true })
  }
  return { driver, config, spec, cleanup }
}

/** Runs `script` with /bin/sh as the sandbox's payload and returns its exit code and output. */
export async function runIn(
  driver: LocalDriver,
  spec: InstanceSpec,
  script: string,
  timeoutMs = 20_000,
): Promise<{ code: number | null; out: string }> {
  // The log lives on the instance's disk: provision first so the path is the final one.
  await driver.provision(spec)
  const log = driver.logPath(spec.id)
  const from = await fs.stat(log).then(
    (s) => s.size,
    () => 0,
  )
  await driver.launch(spec, ['/bin/sh', '-c', script])
  const code = await driver.waitForExit(spec.id, timeoutMs)
  const out = (await fs.readFile(log)).subarray(from).toString()
  return { code, out }
}

/** Host pids owned by `uid` (empty when none); with `live`, zombies awaiting their parent are left out. */
export async function pidsOfUid(uid: number, live = false): Promise<number[]> {
  let pids: number[]
  try {
    const { stdout } = await execFileP('pgrep', ['-u', String(uid)])
    pids = stdout.split('\n').filter(Boolean).map(Number)
  } catch {
    return []
  }
  if (!live) return pids
  const state = async (pid: number) => {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
  }
  const out: number[] = []
  for (const pid of pids) if (!['', 'Z', 'X'].includes(await state(pid))) out.push(pid)
  return out
}

/** Asserts that `uid` has no live process now and none at all (zombies reaped) shortly after. */
export async function expectNoProcesses(uid: number): Promise<void> {
  const live = await pidsOfUid(uid, true)
  if (live.length) throw new Error(`uid ${uid} still runs ${live.join(' ')}`)
  await waitFor(`uid ${uid}'s zombies to be reaped`, async () => (await pidsOfUid(uid)).length === 0, {
    timeoutMs: 2000,
    intervalMs: 10,
  })
}
