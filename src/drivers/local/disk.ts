import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Mount points currently under `dir` (itself included), deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8')
  const prefix = dir.endsWith('/') ? dir : `${dir}/`
  const out: string[] = []
  for (const line of text.split('\n')) {
    // Field 5 is the mount point, with spaces and the like octal-escaped.
    const mp = line.split(' ')[4]
    if (!mp) continue
    const decoded = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)))
    if (decoded === dir || decoded.startsWith(prefix)) out.push(decoded)
  }
  return out.sort((a, b) => b.length - a.length)
}

export async function isMounted(dir: string): Promise<boolean> {
  return (await mountsUnder(dir)).includes(dir)
}

/**
 * Checks that this host can give instances a hard disk quota: root, mkfs.ext4, loop devices,
 * and a real mount of a tiny image under `scratchDir`. Returns why not, or null.
 */
export async function probeDiskQuota(scratchDir: string): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'not root: no disk quota (instances share the data dir)'
  if (!existsSync('/dev/loop-control')) return 'no loop devices (/dev/loop-control): no disk quota'
  const image = path.join(scratchDir, 'probe.img')
  const mnt = path.join(scratchDir, 'probe.mnt')
  try {
    await fs.mkdir(mnt, { recursive: true })
    await createImage(image, 16)
    await run('mount', ['-o', 'loop,nosuid,nodev', image, mnt])
    await run('umount', [mnt])
    return null
  } catch (err) {
    const msg = (err as { stderr?: string }).stderr?.trim() || (err as Error).message
    return `disk quota unavailable (loop-mounted ext4 failed: ${msg.split('\n')[0]})`
  } finally {
    if (await isMounted(mnt)) await run('umount', ['-l', mnt]).catch(() => {})
    await fs.rm(image, { force: true })
    await fs.rmdir(mnt).catch(() => {})
  }
}

/** A sparse file of sizeMb formatted as ext4 (lazy init: formatting takes milliseconds). */
async function createImage(image: string, sizeMb: number): Promise<void> {
  const fh = await fs.open(image, 'w', 0o600)
  try {
    await fh.truncate(sizeMb * 1024 * 1024)
  } finally {
    await fh.close()
  }
  await run('mkfs.ext4', [
    '-q',
    '-F',
    '-m',
    '0',
    '-E',
    'lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0',
    image,
  ])
}

/**
 * Makes sure the instance's disk image exists and is mounted at `mountDir` (nosuid, nodev).
 * Creates it on first use; re-mounts it after a host reboot. Returns true when it created it.
 */
export async function ensureDisk(image: string, mountDir: string, sizeMb: number): Promise<boolean> {
  let created = false
  if (!existsSync(image)) {
    await createImage(image, sizeMb)
    created = true
  }
  await fs.mkdir(mountDir, { recursive: true, mode: 0o711 })
  if (!(await isMounted(mountDir))) await run('mount', ['-o', 'loop,nosuid,nodev', image, mountDir])
  await fs.chmod(mountDir, 0o711)
  return created
}

/** Unmounts everything under `dir`, lazily when busy; the loop device frees itself. */
export async function unmountAll(dir: string): Promise<void> {
  for (const mp of await mountsUnder(dir)) {
    try {
      await run('umount', [mp])
    } catch {
      await run('umount', ['-l', mp])
    }
  }
  const left = await mountsUnder(dir)
  if (left.length) throw new Error(`still mounted: ${left.join(', ')}`)
}
