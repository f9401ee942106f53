import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs'
import path from 'node:path'
import { lockExclusive } from '../door/unix-socket.js'

/** A data folder is served by one server at a time: two would supervise the same instances. */
export class DataFolderLockedError extends Error {}

/**
 * Takes the data folder's lock (`<dataDir>/server.lock`, an flock the kernel drops when this
 * process ends, however it ends) and writes this process's pid in it. Throws naming the pid of
 * the server that holds it.
 */
export function lockDataFolder(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o711 })
  const file = path.join(dataDir, 'server.lock')
  const fd = openSync(file, 'a+', 0o600)
  if (!lockExclusive(fd)) {
    const pid = readFileSync(file, 'utf8').trim()
    closeSync(fd)
    throw new DataFolderLockedError(
      `another clawport server${pid ? ` (pid ${pid})` : ''} already serves ${dataDir}; stop it first, or give this one its own --data-dir`,
    )
  }
  ftruncateSync(fd, 0)
  writeSync(fd, `${process.pid}\n`)
  return () => closeSync(fd)
}
