/** The workload cgroup's procs files inside the sandbox, as the host listed them; none without cgroups. */
let procsFiles: string[] = []
const FAIL = `echo 'clawlet: cannot join the workload cgroup' >&2; exit 125`

/** Takes the files CLAWLET_WORKLOAD_PROCS lists once at start; only plain absolute paths go in the shell line. */
export function setWorkloadProcs(files: readonly string[]): void {
  procsFiles = files.filter((f) => /^\/[\w./-]+$/.test(f))
}

/**
 * The command line that runs `file args` in the instance's workload cgroup instead of the
 * clawlet's: a shell writes its own pid into each procs file, then execs the program, so nothing
 * it runs ever forks on the door's share of processes and memory. When it cannot join, the
 * program does not run (exit 125). Unchanged on a host without cgroups.
 */
export function inWorkload(file: string, args: string[]): [string, string[]] {
  if (procsFiles.length === 0) return [file, args]
  const joins = procsFiles.map((f) => `{ echo $$ > '${f}'; } 2>/dev/null || { ${FAIL}; }; `).join('')
  return ['/bin/sh', ['-c', `${joins}exec "$0" "$@"`, file, ...args]]
}
