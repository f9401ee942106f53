import dns from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import { Agent, buildConnector, type Dispatcher } from 'undici'
import { AppError } from '../errors.js'

/**
 * Where a user-set model URL may not lead: the host itself, private networks, link-local
 * (cloud metadata), carrier-grade NAT, multicast and reserved ranges. The control plane makes
 * these calls from the host, so without this a user could read services only the host reaches.
 */
const PRIVATE = new BlockList()
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['192.88.99.0', 24],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  PRIVATE.addSubnet(net, prefix, 'ipv4')
for (const [net, prefix] of [
  // Each of these holds an IPv4 address (or reaches one) and so is a way around the IPv4 rules:
  ['::', 96], // unspecified, loopback and IPv4-compatible (`[::127.0.0.1]`)
  ['::ffff:0:0', 96], // IPv4-mapped
  ['::ffff:0:0:0', 96], // IPv4-translated
  ['64:ff9b::', 96], // NAT64 of any IPv4 address
  ['64:ff9b:1::', 48], // local-use NAT64
  ['2001::', 32], // Teredo
  ['2002::', 16], // 6to4
  ['100::', 64],
  ['2001:db8::', 32],
  ['fec0::', 10], // site-local (deprecated, still routed by some stacks)
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const)
  PRIVATE.addSubnet(net, prefix, 'ipv6')

/** Whether an IP address is one a user-set upstream may not reach. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address)
  if (family === 0) return false
  return PRIVATE.check(address, family === 6 ? 'ipv6' : 'ipv4')
}

const REFUSED =
  'points at a private, loopback or link-local address; a model you set yourself must be reachable on the public internet (the operator can allow private addresses with CLAWPORT_MODEL_PRIVATE_URLS=allow)'

/**
 * Refuses a URL whose host is a private address literal or a localhost name (422). The WHATWG
 * parser has already turned every IPv4 spelling (`0x7f.1`, `2130706433`, `127.1`) into dotted
 * form and compressed IPv6, so the address check sees the address a connection would use.
 */
export function assertPublicUrl(url: string): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new AppError('validation_failed', 'base_url must be an http(s) URL')
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new AppError('validation_failed', 'base_url must be an http(s) URL')
  const host = parsed.hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.+$/, '')
    .toLowerCase()
  if (host === '' || host === 'localhost' || host.endsWith('.localhost') || isPrivateAddress(host))
    throw new AppError('model_url_not_allowed', `base_url ${REFUSED}`)
}

function refused(host: string): Error {
  return Object.assign(new Error(`${host} ${REFUSED}`), { code: 'EADDRNOTALLOWED' })
}

/** Resolves a name like dns.lookup, then drops private addresses; none left is an error. */
const publicLookup: LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0)
    const allowed = addresses.filter((a) => !isPrivateAddress(a.address))
    if (allowed.length === 0) {
      return callback(refused(hostname), '', 0)
    }
    if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, allowed)
    const [first] = allowed as [dns.LookupAddress]
    callback(null, first.address, first.family)
  })
}

const connectVia = buildConnector({ lookup: publicLookup })

/**
 * Opens a connection only to a public address. A name goes through `publicLookup`, but an
 * address literal never reaches a lookup at all, so it is checked here before connecting; the
 * address actually connected to is checked again before any byte of a request is sent.
 */
export const publicConnector: buildConnector.connector = (options, callback) => {
  if (isPrivateAddress(options.hostname)) return callback(refused(options.hostname), null)
  connectVia(options, (...args) => {
    const [err, socket] = args
    if (err) return callback(err, null)
    const peer = socket.remoteAddress
    if (!peer || isPrivateAddress(peer)) {
      socket.destroy()
      return callback(refused(options.hostname), null)
    }
    callback(null, socket)
  })
}

/** A connection pool whose connections only ever reach public addresses. */
export const publicOnly: Dispatcher = new Agent({ connect: publicConnector })
