import { createHmac, timingSafeEqual } from 'node:crypto'

/** The shortest runner token accepted: it is the one secret between replicas and runners. */
export const MIN_RUNNER_TOKEN_LENGTH = 32

/** Header naming the runner on its calls to the control plane. */
export const RUNNER_HEADER = 'x-clawport-runner'

/**
 * The two credentials derived from the runner token, one per direction, so that neither side can
 * replay what the other sends: replicas present `replicaCredential` to a runner's endpoint, and a
 * runner presents `runnerCredential(its id)` on the instances' door calls it forwards.
 */
export function replicaCredential(token: string): string {
  return createHmac('sha256', token).update('clawport replica -> runner').digest('base64url')
}

export function runnerCredential(token: string, runnerId: string): string {
  return createHmac('sha256', token)
    .update(`clawport runner ${runnerId} -> control plane`)
    .digest('base64url')
}

/** Whether an `Authorization` header carries `expected` as its bearer credential (constant time). */
export function bearerMatches(header: string | undefined, expected: string): boolean {
  const given = /^Bearer (\S+)$/.exec(header ?? '')?.[1]
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Why a runner token is unusable, or null. */
export function runnerTokenProblem(token: string | undefined): string | null {
  if (!token)
    return 'no runner token: set CLAWPORT_RUNNER_TOKEN (the same on the control plane and every runner)'
  if (token.length < MIN_RUNNER_TOKEN_LENGTH)
    return `the runner token must be at least ${MIN_RUNNER_TOKEN_LENGTH} characters (e.g. \`openssl rand -hex 32\`)`
  return null
}
