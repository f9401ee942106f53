import type { IncomingHttpHeaders } from 'node:http'
import { RUNNER_ANSWER_HEADER } from '../door/transport.js'

/**
 * One hop's own headers, the credential of the hop that brought the request, and the runner's
 * mark on its own answers (a clawlet's answer never carries it on): never passed on.
 */
const HOP_HEADERS = new Set([
  'authorization',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
  'te',
  'trailer',
  RUNNER_ANSWER_HEADER,
])

/**
 * Headers that name a client address. Dropped from an instance's calls: the control plane may
 * trust a runner's address as a proxy's, and an instance must not choose the address it is
 * audited and throttled as.
 */
const ADDRESS_HEADERS = new Set([
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
])

/** The headers of one hop worth passing on to the next (lists, such as set-cookie, kept), without addresses if asked. */
export function passOn(
  headers: IncomingHttpHeaders,
  opts: { dropAddresses?: boolean } = {},
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_HEADERS.has(name)) continue
    if (opts.dropAddresses && ADDRESS_HEADERS.has(name)) continue
    out[name] = value
  }
  return out
}
