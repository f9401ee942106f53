import type { IncomingMessage, ServerResponse } from 'node:http'
import path from 'node:path'
import { sendJson } from '../lib/http-body.js'
import {
  type ChannelStateWire,
  type ChannelsStateWire,
  channelFingerprint,
  PairingDecisionWire,
  type PairingRequestWire,
  redactTokens,
} from '../wire/channels.js'
import type { GatewaySupervisor } from './gateway.js'
import { channelNames } from './gateway-channels.js'
import { GATEWAY_BODY_MAX_BYTES } from './gateway-routes.js'
import { deviceIdentity, GatewayConnection } from './gateway-ws.js'
import { readJson } from './json-body.js'

type Handler = (ctx: { req: IncomingMessage; res: ServerResponse; query: URLSearchParams }) => Promise<void>

/** OpenClaw keys pairing by channel account; Clawport configures only the default one. */
const ACCOUNT_ID = 'default'
/** How long a probe of the channel's service may take (a getMe call for Telegram). */
const PROBE_TIMEOUT_MS = 3_000
/** A probe's answer is reused this long: a dashboard polls, the channel's service need not be asked each time. */
const PROBE_REUSE_MS = 30_000
const probes = new Map<string, { at: number; error?: string }>()

/** The tokens of the instance's channels, cut out of anything read back from the gateway. */
function tokensOf(gateway: GatewaySupervisor): string[] {
  return gateway.channels?.telegram ? [gateway.channels.telegram.bot_token] : []
}

async function withGateway<T>(
  gateway: GatewaySupervisor,
  fn: (c: GatewayConnection) => Promise<T>,
): Promise<T> {
  const state = gateway.state()
  if (state.status !== 'ready' || !gateway.token) throw new Error(`the agent is ${state.status}`)
  const identity = deviceIdentity(path.join(gateway.paths.stateDir, 'clawlet-device.json'))
  const conn = await GatewayConnection.open(`ws://127.0.0.1:${gateway.port}`, gateway.token, identity)
  try {
    return await fn(conn)
  } finally {
    conn.close()
  }
}

type Account = {
  running?: boolean
  connected?: boolean
  lastError?: string | null
  lastInboundAt?: number | null
}

async function account(
  conn: GatewayConnection,
  channel: string,
  probe: boolean,
): Promise<Account | undefined> {
  const status = await conn.request('channels.status', {
    channel,
    ...(probe ? { probe: true, timeoutMs: PROBE_TIMEOUT_MS } : {}),
  })
  const accounts = (status?.channelAccounts?.[channel] ?? []) as Array<Account & { accountId?: string }>
  return accounts.find((a) => a.accountId === ACCOUNT_ID) ?? accounts[0]
}

async function pending(conn: GatewayConnection, channel: string): Promise<PairingRequestWire[]> {
  const list = await conn.request('channels.pairing.list', { channel, accountId: ACCOUNT_ID })
  return ((list?.requests ?? []) as Array<Record<string, unknown>>).map((r) => ({
    request_id: String(r.requestId),
    sender_id: String(r.senderId),
    metadata: Object.fromEntries(
      Object.entries((r.metadata ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    ),
    created_at: String(r.createdAt),
    expires_at: String(r.expiresAt),
  }))
}

/** Each configured channel's state; a channel not yet connected is probed, to say why. */
async function channelStates(gateway: GatewaySupervisor): Promise<ChannelsStateWire> {
  const channels = gateway.channels
  const names = channelNames(channels)
  const tokens = tokensOf(gateway)
  const base = (name: string): ChannelStateWire => ({
    name,
    fingerprint: channelFingerprint((channels as Record<string, object>)[name] ?? {}),
    running: false,
    connected: false,
    pending_pairings: 0,
  })
  try {
    return await withGateway(gateway, async (conn) => {
      const out: ChannelStateWire[] = []
      for (const name of names) {
        let a = await account(conn, name, false)
        if (a && !a.connected && !a.lastError) {
          const last = probes.get(name)
          if (last && Date.now() - last.at < PROBE_REUSE_MS) a = { ...a, lastError: last.error }
          else {
            a = await account(conn, name, true)
            probes.set(name, { at: Date.now(), ...(a?.lastError ? { error: a.lastError } : {}) })
          }
        }
        const requests = await pending(conn, name).catch(() => [])
        out.push({
          ...base(name),
          running: a?.running === true,
          connected: a?.connected === true,
          ...(a?.lastError ? { error: redactTokens(a.lastError, tokens) } : {}),
          pending_pairings: requests.length,
          ...(a?.lastInboundAt ? { last_inbound_at: new Date(a.lastInboundAt).toISOString() } : {}),
        })
      }
      return { channels: out }
    })
  } catch (err) {
    return { error: redactTokens((err as Error).message, tokens), channels: names.map(base) }
  }
}

/** Why a pairing call cannot be made now, or undefined when it can. */
function notReady(gateway: GatewaySupervisor, channel: string): string | undefined {
  if (!channelNames(gateway.channels).includes(channel)) return `the gateway was not started with ${channel}`
  const state = gateway.state()
  return state.status === 'ready' ? undefined : `the agent is ${state.status}`
}

/**
 * The clawlet's channel routes: their state, pending DM pairing requests, and decisions on them.
 * What the gateway cannot do now is answered as `error` (200), for the control plane to word.
 */
export function gatewayChannelRoutes(gateway: GatewaySupervisor): Array<[string, Handler]> {
  return [
    ['GET /v1/gateway/channels', async ({ res }) => sendJson(res, 200, await channelStates(gateway))],
    [
      'GET /v1/gateway/pairing',
      async ({ res, query }) => {
        const channel = query.get('channel') ?? ''
        const error = notReady(gateway, channel)
        if (error) return sendJson(res, 200, { error, requests: [] })
        sendJson(res, 200, { requests: await withGateway(gateway, (c) => pending(c, channel)) })
      },
    ],
    [
      'POST /v1/gateway/pairing',
      async ({ req, res }) => {
        const body = await readJson(req, PairingDecisionWire, GATEWAY_BODY_MAX_BYTES)
        const error = notReady(gateway, body.channel)
        if (error) return sendJson(res, 200, { error, done: false })
        const method = body.action === 'approve' ? 'channels.pairing.approve' : 'channels.pairing.dismiss'
        const params = { channel: body.channel, accountId: ACCOUNT_ID, requestId: body.request_id }
        const done = await withGateway(gateway, (c) =>
          c
            .request(method, params)
            .then(() => true)
            // A connected gateway refuses only a request that is not pending (expired, decided).
            .catch(() => false),
        )
        sendJson(res, 200, { done })
      },
    ],
  ]
}
