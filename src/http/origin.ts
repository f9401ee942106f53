import type { FastifyRequest } from 'fastify'

/** Where the server says it is, when no public URL is configured. */
export interface OriginConfig {
  publicUrl?: string
  host: string
  port: number
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]'])
/** A Host header's name (a DNS name, IPv4 or bracketed IPv6) and optional port, nothing else. */
const HOST_RE = /^([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i

/** An address as it goes in a URL: IPv6 in brackets, IPv4-mapped IPv6 as plain IPv4. */
function urlHost(address: string): string {
  const plain = address.replace(/^::ffff:(?=\d+\.)/i, '')
  return plain.includes(':') && !plain.startsWith('[') ? `[${plain}]` : plain.toLowerCase()
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname)
}

/**
 * The origin the served documents name: the configured public URL; else the request's Host
 * only when it names this server (a loopback name, the address it listens on or the one the
 * connection reached), never a forged one; else the address the connection reached.
 */
export function originOf(request: FastifyRequest, config: OriginConfig): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/+$/, '')
  const socket = request.socket as { localAddress?: string; localPort?: number } | undefined
  const reached = socket?.localAddress ? urlHost(socket.localAddress) : undefined
  const port = socket?.localPort ?? config.port
  const listen = WILDCARDS.has(config.host) ? undefined : urlHost(config.host)
  // Only a bare host and port: a Host with user info, a path or odd characters is no host of ours.
  const asked = HOST_RE.exec(request.host ?? '')
  if (asked) {
    const name = (asked[1] as string).toLowerCase()
    if (isLoopback(name) || name === listen || name === reached)
      return `${request.protocol}://${asked[0].toLowerCase()}`
  }
  return `${request.protocol}://${listen ?? reached ?? '127.0.0.1'}:${port}`
}
