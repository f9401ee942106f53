import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { buildSeccompProgram, deniedSyscalls, syscallNumbers } from '../src/drivers/local/seccomp.js'

/** `#define __NR_<name> <nr>` lines of a kernel header, as a name -> number map. */
function kernelTable(file: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const m of readFileSync(file, 'utf8').matchAll(/^#define __NR(?:3264)?_(\w+)\s+(\d+)\s*$/gm))
    out.set(m[1] as string, Number(m[2]))
  return out
}

const HEADERS = {
  x64: '/usr/include/x86_64-linux-gnu/asm/unistd_64.h',
  // arm64 uses the generic table.
  arm64: '/usr/include/asm-generic/unistd.h',
} as const

describe('the seccomp filter against the kernel syscall tables', () => {
  for (const arch of ['x64', 'arm64'] as const) {
    it.skipIf(!existsSync(HEADERS[arch]))(`names the kernel's own numbers on ${arch}`, () => {
      const kernel = kernelTable(HEADERS[arch])
      const ours = syscallNumbers(arch)
      for (const [name, nr] of Object.entries(ours)) {
        // A name the kernel does not have on this architecture must not be in the table.
        expect(kernel.has(name), `${name} on ${arch}`).toBe(true)
        expect(kernel.get(name), `${name} on ${arch}`).toBe(nr)
      }
      for (const name of [
        'ptrace',
        'mount',
        'pidfd_getfd',
        'io_uring_setup',
        'io_uring_enter',
        'io_uring_register',
        'kcmp',
        'bpf',
        'setns',
      ])
        expect(deniedSyscalls(arch)).toContain(name)
      expect(buildSeccompProgram(arch).length % 8).toBe(0)
    })
  }
})
