import { existsSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { type CgroupChild, type InstanceCgroup, procsOf } from './cgroups.js'

const FREEZE_WAIT_MS = 1000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Ends every process of an instance's cgroup, or of one of its children, even one that forks as
 * fast as it can: each round freezes the cgroup (a frozen process cannot fork), SIGKILLs all it
 * holds (v2's cgroup.kill where the kernel has it) and thaws it so the signals land. A whole
 * instance is emptied; a child is rid of what it held and what that forked, while a command
 * that joined it meanwhile (the clawlet answering again) is spared. Returns how many processes
 * it signalled and those of them still left after `timeoutMs`.
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
  const doomed = async () => {
    const pids = await procsOf(listed)
    if (!child || signalled.size === 0) return pids
    return pids.filter((pid) => signalled.has(pid) || signalled.has(parentOf(pid)))
  }
  for (let round = 0; ; round++) {
    if ((await doomed()).length === 0) return { killed: signalled.size, left: [] }
    if (target) await freeze(cg.version, target, true)
    try {
      const kill = target && cg.version === 'v2' ? path.join(target, 'cgroup.kill') : undefined
      if (round === 0 && kill && existsSync(kill)) await fs.writeFile(kill, '1').catch(() => {})
      // Listed again once frozen: nothing forks between this read and the signals.
      for (const pid of await doomed()) {
        signalled.add(pid)
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
      }
    } finally {
      if (target) await freeze(cg.version, target, false)
    }
    if (Date.now() > deadline) return { killed: signalled.size, left: await doomed() }
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

/** A host pid's parent, or -1 when it is gone. */
function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return -1
  }
}
