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

/** What ensureDisk did with the image. */
export interface DiskOutcome {
  created: boolean
  /** The size it was grown from, in MiB, when it grew. */
  grewFromMb?: number
  /** Why a wanted change of size did not happen (a smaller size, a busy mount). */
  note?: string
}

/**
 * Makes sure the instance's disk image exists, has at least `sizeMb` and is mounted at
 * `mountDir` (nosuid, nodev). Creates it on first use; re-mounts it after a host reboot; grows
 * it when the plan's size went up (offline: unmounted, checked, resized; the sandbox is not
 * running while this runs). A smaller size never shrinks it: that could drop files.
 */
export async function ensureDisk(image: string, mountDir: string, sizeMb: number): Promise<DiskOutcome> {
  const out: DiskOutcome = { created: false }
  if (!existsSync(image)) {
    await createImage(image, sizeMb)
    out.created = true
  } else {
    const currentMb = Math.floor((await fs.stat(image)).size / (1024 * 1024))
    if (currentMb < sizeMb) {
      if (await unmountIfIdle(mountDir)) {
        await growImage(image, sizeMb)
        out.grewFromMb = currentMb
      } else out.note = `the disk is busy; it grows to ${sizeMb} MiB at the next start`
    } else if (currentMb > sizeMb)
      out.note = `the disk keeps its ${currentMb} MiB: it is never shrunk below its files`
  }
  await fs.mkdir(mountDir, { recursive: true, mode: 0o711 })
  if (!(await isMounted(mountDir))) await run('mount', ['-o', 'loop,nosuid,nodev', image, mountDir])
  await fs.chmod(mountDir, 0o711)
  return out
}

/** Unmounts `mountDir` unless something still uses it; true when it is not mounted after. */
async function unmountIfIdle(mountDir: string): Promise<boolean> {
  if (!(await isMounted(mountDir))) return true
  try {
    await run('umount', [mountDir])
    return true
  } catch {
    return false
  }
}

/** Grows an unmounted ext4 image to sizeMb: the file first, then the filesystem. */
async function growImage(image: string, sizeMb: number): Promise<void> {
  const fh = await fs.open(image, 'r+')
  try {
    await fh.truncate(sizeMb * 1024 * 1024)
  } finally {
    await fh.close()
  }
  // resize2fs wants a freshly checked filesystem; e2fsck exits 1 or 2 when it fixed something.
  try {
    await run('e2fsck', ['-f', '-y', image])
  } catch (err) {
    const code = (err as { code?: number }).code
    if (code !== 1 && code !== 2) throw err
  }
  await run('resize2fs', [image])
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
