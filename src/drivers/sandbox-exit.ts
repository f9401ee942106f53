import { constants } from 'node:os'
import type { SandboxState } from './driver.js'

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(constants.signals).map(([name, n]) => [n, name] as [number, string]),
)

/**
 * What a sandbox that ended by itself reports: bwrap's pid 1 exits with its payload's code, or
 * 128 + the signal that killed it (as a shell does). `oomKilled`: the kernel OOM-killed in its
 * cgroup since it started.
 */
export function sandboxExit(exitCode: number | undefined, oomKilled: boolean): SandboxState {
  const signal = exitCode !== undefined && exitCode > 128 ? SIGNAL_NAMES.get(exitCode - 128) : undefined
  const base =
    exitCode === undefined
      ? 'killed'
      : signal
        ? `killed by ${signal} (exit code ${exitCode})`
        : `exited with code ${exitCode}`
  return {
    running: false,
    reason: oomKilled ? `${base}, out of memory` : base,
    ...(exitCode !== undefined ? { exitCode } : {}),
    ...(signal ? { signal } : {}),
    oomKilled,
  }
}
