import { post, qs } from '../../api'

/** A WebSocket URL of an instance, with a fresh single-use ticket (browsers cannot send headers). */
export async function socketUrl(
  instanceId: string,
  path: 'terminal/ws' | 'vnc/ws',
  params: Record<string, string | number | undefined> = {},
): Promise<string> {
  const { ticket } = await post<{ ticket: string }>(`/api/instances/${instanceId}/ws-ticket`)
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${proto}//${location.host}/api/instances/${instanceId}/${path}${qs({ ...params, ticket })}`
}

/** Reconnect delays: quick at first, then at most every 10 s. */
export function backoffMs(attempt: number): number {
  return Math.min(10_000, 500 * 2 ** attempt)
}
