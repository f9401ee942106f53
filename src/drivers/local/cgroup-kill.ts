import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { type CgroupChild, type InstanceCgroup, procsOf } from './cgroups.js'

const FREEZE_WAIT_MS = 1000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Ends every process of an instance's cgroup, or of one of its children, even one that forks as
 * fast as it can: each round freezes the cgroup (a frozen process cannot fork), SIGKILLs all it
 * holds (v2's cgroup.kill where the kernel has it) and thaws it so the signals land. Returns how
 * many processes it signalled and those still left after `timeoutMs`.
 */
export async function freezeAndKill(
  cg: InstanceCgroup,
  child: CgroupChild | null,
  timeoutMs: number,
): Promise<{ killed: number; left: number[] }> {
  const at = (d: string) => (child ? path.join(d, child) : d)
  // The cgroups whose procs files list the processes: the target and, for a whole instance, its children.
  const listed = cg
    .dirs()
    .flatMap((d) => (child ? [at(d)] : [d, path.join(d, 'door'), path.join(d, 'workload')]))
  const freezer = cg.dir(cg.version === 'v2' ? 'cgroup' : 'freezer')
  const target = freezer ? at(freezer) : undefined
  const signalled = new Set<number>()
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const before = await procsOf(listed)
    if (before.length === 0) return { killed: signalled.size, left: [] }
    if (target) await freeze(cg.version, target, true)
    try {
      const kill = target && cg.version === 'v2' ? path.join(target, 'cgroup.kill') : undefined
      if (kill && existsSync(kill)) await fs.writeFile(kill, '1').catch(() => {})
      // Listed again once frozen: nothing forks between this read and the signals.
      for (const pid of await procsOf(listed)) {
        signalled.add(pid)
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
      }
    } finally {
      if (target) await freeze(cg.version, target, false)
    }
    if (Date.now() > deadline) {
      const left = await procsOf(listed)
      return { killed: signalled.size, left }
    }
    await sleep(10)
  }
}

/** Freezes (or thaws) a cgroup; a freeze waits a moment for the kernel to report it frozen. */
async function freeze(version: 'v1' | 'v2' | 'none', dir: string, on: boolean): Promise<void> {
  if (version === 'none') return
  const v2 = version === 'v2'
  const file = path.join(dir, v2 ? 'cgroup.freeze' : 'freezer.state')
  const ok = await fs.writeFile(file, v2 ? (on ? '1' : '0') : on ? 'FROZEN' : 'THAWED').then(
    () => true,
    () => false,
  )
  if (!on || !ok) return
  const deadline = Date.now() + FREEZE_WAIT_MS
  while (Date.now() < deadline) {
    const frozen = v2
      ? /^frozen 1$/m.test(await fs.readFile(path.join(dir, 'cgroup.events'), 'utf8').catch(() => ''))
      : (await fs.readFile(file, 'utf8').catch(() => '')).trim() === 'FROZEN'
    if (frozen) return
    await sleep(5)
  }
}
