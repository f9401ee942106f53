/**
 * A classic-BPF seccomp program for sandboxes, generated here so no native library is needed.
 * Default allow; EPERM for the syscalls that reach into the kernel or the host (mounts,
 * tracing, modules, keyrings, namespaces, io_uring, taking another process's descriptors, ...),
 * for AF_VSOCK sockets (vsock is not network-namespaced: it would reach the host and its VMs),
 * and for the TTY ioctls that inject input into another process's terminal (TIOCSTI,
 * TIOCLINUX). A foreign architecture is killed.
 */

// struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6] (little-endian).
const OFFSET_NR = 0
const OFFSET_ARCH = 4
const OFFSET_ARG0_LOW = 16
const OFFSET_ARG1_LOW = 16 + 8 * 1

const BPF_LD_W_ABS = 0x20
const BPF_JEQ_K = 0x15
const BPF_JGE_K = 0x35
const BPF_RET_K = 0x06

const SECCOMP_RET_KILL_PROCESS = 0x80000000
const SECCOMP_RET_ERRNO = 0x00050000
const SECCOMP_RET_ALLOW = 0x7fff0000
const EPERM = 1

const AF_VSOCK = 40
const TIOCSTI = 0x5412
const TIOCLINUX = 0x541c
const X32_SYSCALL_BIT = 0x40000000

export type SeccompArch = 'x64' | 'arm64'

interface ArchTable {
  auditArch: number
  ioctl: number
  socket: number
  denied: Record<string, number>
}

// Syscalls added since 5.1 have the same numbers on every architecture.
const UNIFIED = {
  // io_uring runs work outside the syscall filter and has been a steady source of kernel bugs.
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  // Takes a copy of another process's descriptor (the clawlet's sockets and log).
  pidfd_getfd: 438,
  process_madvise: 440,
  // The new mount API.
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  mount_setattr: 442,
  quotactl_fd: 443,
}

const TABLES: Record<SeccompArch, ArchTable> = {
  x64: {
    auditArch: 0xc000003e,
    ioctl: 16,
    socket: 41,
    denied: {
      ptrace: 101,
      syslog: 103,
      pivot_root: 155,
      acct: 163,
      mount: 165,
      umount2: 166,
      swapon: 167,
      swapoff: 168,
      reboot: 169,
      iopl: 172,
      ioperm: 173,
      init_module: 175,
      delete_module: 176,
      quotactl: 179,
      nfsservctl: 180,
      lookup_dcookie: 212,
      kexec_load: 246,
      add_key: 248,
      request_key: 249,
      keyctl: 250,
      perf_event_open: 298,
      fanotify_init: 300,
      name_to_handle_at: 303,
      open_by_handle_at: 304,
      setns: 308,
      process_vm_readv: 310,
      process_vm_writev: 311,
      finit_module: 313,
      kexec_file_load: 320,
      bpf: 321,
      userfaultfd: 323,
      kcmp: 312,
      ...UNIFIED,
    },
  },
  arm64: {
    auditArch: 0xc00000b7,
    ioctl: 29,
    socket: 198,
    denied: {
      lookup_dcookie: 18,
      umount2: 39,
      mount: 40,
      pivot_root: 41,
      nfsservctl: 42,
      quotactl: 60,
      acct: 89,
      kexec_load: 104,
      init_module: 105,
      delete_module: 106,
      syslog: 116,
      ptrace: 117,
      reboot: 142,
      add_key: 217,
      request_key: 218,
      keyctl: 219,
      swapon: 224,
      swapoff: 225,
      perf_event_open: 241,
      fanotify_init: 262,
      name_to_handle_at: 264,
      open_by_handle_at: 265,
      setns: 268,
      process_vm_readv: 270,
      process_vm_writev: 271,
      finit_module: 273,
      bpf: 280,
      userfaultfd: 282,
      kexec_file_load: 294,
      kcmp: 272,
      ...UNIFIED,
    },
  },
}

/** The syscall names the filter refuses on an architecture (for docs and tests). */
export function deniedSyscalls(arch: SeccompArch): string[] {
  return Object.keys(TABLES[arch].denied)
}

/** The numbers the filter uses on an architecture: the refused syscalls, ioctl and socket. */
export function syscallNumbers(arch: SeccompArch): Record<string, number> {
  const t = TABLES[arch]
  return { ...t.denied, ioctl: t.ioctl, socket: t.socket }
}

/** Whether this host's architecture has a filter. */
export function seccompArchSupported(arch: string): arch is SeccompArch {
  return arch === 'x64' || arch === 'arm64'
}

type Insn = { code: number; jt: number | 'deny' | 'allow'; jf: number | 'deny' | 'allow'; k: number }

/** Builds the filter as the raw `struct sock_filter[]` bytes bwrap's `--seccomp FD` expects. */
export function buildSeccompProgram(arch: SeccompArch): Buffer {
  const table = TABLES[arch]
  const prog: Insn[] = [
    { code: BPF_LD_W_ABS, jt: 0, jf: 0, k: OFFSET_ARCH },
    { code: BPF_JEQ_K, jt: 1, jf: 0, k: table.auditArch },
    { code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_KILL_PROCESS },
    { code: BPF_LD_W_ABS, jt: 0, jf: 0, k: OFFSET_NR },
  ]
  // x32 syscalls arrive with the x86_64 audit arch and bit 30 set: refuse them all, so the
  // x32 numbering cannot be used to get around the list below.
  if (arch === 'x64') prog.push({ code: BPF_JGE_K, jt: 'deny', jf: 0, k: X32_SYSCALL_BIT })
  for (const nr of Object.values(table.denied)) prog.push({ code: BPF_JEQ_K, jt: 'deny', jf: 0, k: nr })
  prog.push(
    // socket(AF_VSOCK, ...): the family is the first argument.
    { code: BPF_JEQ_K, jt: 0, jf: 2, k: table.socket },
    { code: BPF_LD_W_ABS, jt: 0, jf: 0, k: OFFSET_ARG0_LOW },
    { code: BPF_JEQ_K, jt: 'deny', jf: 'allow', k: AF_VSOCK },
  )
  prog.push(
    { code: BPF_JEQ_K, jt: 0, jf: 'allow', k: table.ioctl },
    // ioctl's request is an unsigned long; the kernel compares only its low 32 bits.
    { code: BPF_LD_W_ABS, jt: 0, jf: 0, k: OFFSET_ARG1_LOW },
    { code: BPF_JEQ_K, jt: 'deny', jf: 0, k: TIOCSTI },
    { code: BPF_JEQ_K, jt: 'deny', jf: 0, k: TIOCLINUX },
  )
  const allowAt = prog.length
  prog.push({ code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_ALLOW })
  const denyAt = prog.length
  prog.push({ code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_ERRNO | EPERM })

  const out = Buffer.alloc(prog.length * 8)
  prog.forEach((insn, pc) => {
    const rel = (j: Insn['jt']): number => {
      if (typeof j === 'number') return j
      const offset = (j === 'deny' ? denyAt : allowAt) - pc - 1
      if (offset < 0 || offset > 255) throw new Error('seccomp program too long for a jump')
      return offset
    }
    out.writeUInt16LE(insn.code, pc * 8)
    out.writeUInt8(rel(insn.jt), pc * 8 + 2)
    out.writeUInt8(rel(insn.jf), pc * 8 + 3)
    out.writeUInt32LE(insn.k >>> 0, pc * 8 + 4)
  })
  return out
}
