/**
 * Host names an `allowlist` instance may reach. A name is exact (`pypi.org`: that name only);
 * `*.example.com` is every name under example.com, not example.com itself. Names only: no
 * addresses, ports, schemes or single labels, so each entry is something DNS answers for.
 */

/** The most names one instance or plan may list. */
export const MAX_ALLOWED_HOSTS = 64

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

/** Why `host` is not a valid entry, or null when it is (`host` already lowercased). */
export function allowedHostProblem(host: string): string | null {
  if (host.length === 0) return 'it is empty'
  if (/[/:@?#\s]/.test(host)) return 'it must be a bare host name, without a scheme, port, path or spaces'
  const name = host.startsWith('*.') ? host.slice(2) : host
  if (name.length > 253) return 'it is longer than 253 characters'
  if (name.includes('*')) return 'a wildcard may only be the first label, as in *.example.com'
  const labels = name.split('.')
  if (labels.length < 2) return 'it needs a domain, as in example.com'
  for (const label of labels) {
    if (!LABEL.test(label))
      return `"${label}" is not a DNS label (letters, digits and inner hyphens, 1 to 63 characters)`
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] as string)) return 'it is an address, not a name'
  return null
}

/** Lowercases, drops duplicates and checks every entry; returns the list or the first problem. */
export function normalizeAllowedHosts(
  hosts: readonly string[],
): { hosts: string[] } | { host: string; problem: string } {
  if (hosts.length > MAX_ALLOWED_HOSTS)
    return {
      host: hosts[MAX_ALLOWED_HOSTS] ?? '',
      problem: `at most ${MAX_ALLOWED_HOSTS} names may be listed`,
    }
  const out: string[] = []
  for (const raw of hosts) {
    const host = raw.trim().toLowerCase()
    const problem = allowedHostProblem(host)
    if (problem) return { host: raw, problem }
    if (!out.includes(host)) out.push(host)
  }
  return { hosts: out }
}
