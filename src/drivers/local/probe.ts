import { execFile, spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { buildSandboxArgs, wrapForHost } from './bwrap.js'
import { rootLinks } from './layout.js'

const run = promisify(execFile)

/** Throws a readable error naming the fix when a host tool is missing. */
export async function requireTool(file: string, args: string[], fix: string): Promise<string> {
  try {
    const { stdout } = await run(file, args)
    return stdout.trim()
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (e.code === 'ENOENT') throw new Error(`${file} not found: ${fix}`)
    throw new Error(`${file} ${args.join(' ')} failed: ${e.message}`)
  }
}

/**
 * Paths an unprivileged instance uid must reach (the data dir, the runtime): every ancestor
 * needs the search bit for "others". Returns the ancestors that lack it.
 */
export async function untraversable(target: string): Promise<string[]> {
  const out: string[] = []
  let dir = path.resolve(target)
  for (;;) {
    const parent = path.dirname(dir)
    if (parent === dir) break
    dir = parent
    const st = await fs.stat(dir).catch(() => null)
    if (st && (st.mode & 0o001) === 0) out.push(dir)
  }
  return out
}

const USERNS_HINT =
  'enable unprivileged user namespaces: `sysctl -w kernel.unprivileged_userns_clone=1` (Debian kernels), ' +
  '`sysctl -w user.max_user_namespaces=15000`, and on Ubuntu 23.10+ `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`'

/**
 * Starts one throwaway sandbox with the same isolation flags instances get, running /bin/true,
 * and throws with the fix when it fails.
 */
export async function probeSandbox(o: {
  scratchDir: string
  seccomp: Buffer | null
  tmpSizeBytes: number
  asUid: number | null
}): Promise<void> {
  await fs.mkdir(o.scratchDir, { recursive: true, mode: 0o700 })
  const seccompFile = path.join(o.scratchDir, 'probe-seccomp.bpf')
  if (o.seccomp) await fs.writeFile(seccompFile, o.seccomp, { mode: 0o600 })
  const args = buildSandboxArgs({
    hostname: 'claw-probe',
    tmpSizeBytes: o.tmpSizeBytes,
    seccompFd: o.seccomp ? 3 : undefined,
    rootLinks: await rootLinks(),
    command: ['/bin/true'],
  })
  const cmd = wrapForHost(args, o.asUid === null ? null : { uid: o.asUid, cgroupProcs: [] })
  const fd = o.seccomp ? openSync(seccompFile, 'r') : 'ignore'
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(cmd.file, cmd.args, { stdio: ['ignore', 'ignore', 'pipe', fd] })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stderr }))
  }).finally(() => {
    if (typeof fd === 'number') closeSync(fd)
  })
  await fs.rm(seccompFile, { force: true })
  if (code === 0) return
  const msg = stderr.trim() || `exit code ${code}`
  const hint = /Unknown option/i.test(msg)
    ? '; bubblewrap 0.8 or newer is needed (for --disable-userns): upgrade the bubblewrap package'
    : /namespace|uid map|Operation not permitted|No space left/i.test(msg)
      ? `; ${USERNS_HINT}`
      : ''
  throw new Error(`cannot start a bubblewrap sandbox: ${msg}${hint}`)
}
