import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { sha256 } from '../../lib/hash.js'

/**
 * The data folders whose drivers ran on this host since it booted. It lives in /run (a tmpfs)
 * because everything it vouches for (sandboxes, cgroups, loop disks, mounts) ends at reboot
 * too. `clawport doctor --orphans` calls whatever no registered folder knows an orphan.
 */
export const REGISTRY_DIR = '/run/clawport/data-folders'

function entryFor(dataDir: string, dir: string): string {
  return path.join(dir, sha256(dataDir, 'hex').slice(0, 24))
}

/** Records `dataDir` (absolute) as one this host serves; root only, idempotent. */
export async function registerDataFolder(dataDir: string, dir = REGISTRY_DIR): Promise<void> {
  const abs = path.resolve(dataDir)
  await fs.mkdir(dir, { recursive: true, mode: 0o700 })
  const file = entryFor(abs, dir)
  // A temporary name of this call's own: replicas sharing the folder register it at once.
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`
  await fs.writeFile(temp, `${abs}\n`, { mode: 0o600 })
  await fs.rename(temp, file)
}

/** Every registered data folder, whether or not it still exists. */
export function registeredDataFolders(dir = REGISTRY_DIR): Array<{ entry: string; dataDir: string }> {
  if (!existsSync(dir)) return []
  const out: Array<{ entry: string; dataDir: string }> = []
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.tmp')) continue
    const entry = path.join(dir, name)
    const dataDir = readFileSync(entry, 'utf8').trim()
    if (path.isAbsolute(dataDir)) out.push({ entry, dataDir })
  }
  return out
}

/** Forgets registered folders that no longer exist; returns them. */
export async function pruneDataFolders(dir = REGISTRY_DIR): Promise<string[]> {
  const gone: string[] = []
  for (const { entry, dataDir } of registeredDataFolders(dir)) {
    if (existsSync(dataDir)) continue
    await fs.rm(entry, { force: true })
    gone.push(dataDir)
  }
  return gone
}
