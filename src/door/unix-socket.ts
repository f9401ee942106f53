import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** Who is at the other end of a connected Unix socket, as the host sees it. */
export interface PeerCredentials {
  pid: number
  uid: number
  gid: number
}

interface Native {
  bindSocket(path: string): number
  peerCredentials(fd: number): PeerCredentials
  setCloseOnExec(fd: number): void
  makePipe(): [number, number]
  lockExclusive(fd: number): boolean
}

// `<root>/{src,dist}/door/unix-socket.{ts,js}` -> `<root>/native/build/Release`; inside a sandbox
// the same layout is bound at /opt/clawport.
const ADDON = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../native/build/Release/unix_socket.node',
)

let native: Native | undefined

function load(): Native {
  if (!native) {
    try {
      native = createRequire(import.meta.url)(ADDON) as Native
    } catch (err) {
      throw new Error(
        `the native socket helper is missing (${ADDON}): run scripts/setup.sh (${err instanceof Error ? err.message : String(err)})`,
      )
    }
  }
  return native
}

/** Where the native helper is expected, for the sandbox's read-only binds. */
export const NATIVE_DIR = path.dirname(ADDON)

/** Throws with a readable reason when the helper cannot be loaded. */
export function requireNative(): void {
  load()
}

/**
 * A stream socket bound at `socketPath` but not listening, close-on-exec. Handed to a sandbox,
 * whoever listens on it there is the peer every connection sees (SO_PEERCRED is set by listen).
 */
export function bindSocket(socketPath: string): number {
  return load().bindSocket(socketPath)
}

/** The credentials of the process at the other end of connected socket `fd`. */
export function peerCredentials(fd: number): PeerCredentials {
  return load().peerCredentials(fd)
}

/** Marks an inherited descriptor close-on-exec, so no program started from here inherits it. */
export function setCloseOnExec(fd: number): void {
  load().setCloseOnExec(fd)
}

/** A pipe, `[readFd, writeFd]`, both close-on-exec: hand an end to a child through its stdio. */
export function makePipe(): [number, number] {
  return load().makePipe()
}

/** Takes an exclusive lock on open file `fd` without waiting; false when another process holds it. */
export function lockExclusive(fd: number): boolean {
  return load().lockExclusive(fd)
}
