import { z } from 'zod'
import { sha256 } from '../lib/hash.js'

/**
 * The wire shapes of an instance's chat channels between the control plane and its clawlet:
 * the settings sent with the gateway's (the channel's own token is the one secret that enters,
 * because the channel needs it inside), and the state and pairing requests the clawlet reads
 * from the gateway.
 */

/** A Telegram bot token as BotFather makes it: `<bot id>:<secret>`. */
export const TELEGRAM_TOKEN_RE = /^[0-9]{3,20}:[A-Za-z0-9_-]{30,80}$/

export const TelegramWire = z.object({
  bot_token: z.string().regex(TELEGRAM_TOKEN_RE),
  dm_policy: z.enum(['pairing', 'allowlist', 'open', 'disabled']),
  allow_from: z.array(z.string().max(32)).max(100),
  group_policy: z.enum(['allowlist', 'open', 'disabled']),
  groups: z.array(z.string().max(32)).max(100),
  require_mention: z.boolean(),
})
export type TelegramWire = z.infer<typeof TelegramWire>

/** Every channel the pinned OpenClaw package has, keyed by its id there. */
export const ChannelsWire = z.object({ telegram: TelegramWire.optional() })
export type ChannelsWire = z.infer<typeof ChannelsWire>

/** One channel as the gateway reports it (its default account). */
export const ChannelStateWire = z.object({
  name: z.string(),
  /** sha256 of the settings the gateway was started with: the control plane compares its own. */
  fingerprint: z.string(),
  running: z.boolean(),
  connected: z.boolean(),
  /** Why it is not connected, with any token cut out. */
  error: z.string().optional(),
  pending_pairings: z.number().int(),
  last_inbound_at: z.string().optional(),
})
export type ChannelStateWire = z.infer<typeof ChannelStateWire>

export const ChannelsStateWire = z.object({
  /** Why no channel state could be read (the gateway not ready, ...). */
  error: z.string().optional(),
  channels: z.array(ChannelStateWire),
})
export type ChannelsStateWire = z.infer<typeof ChannelsStateWire>

export const PairingRequestWire = z.object({
  request_id: z.string(),
  sender_id: z.string(),
  /** The sender's name and username, as the channel gave them. */
  metadata: z.record(z.string(), z.string()),
  created_at: z.string(),
  expires_at: z.string(),
})
export type PairingRequestWire = z.infer<typeof PairingRequestWire>

export const PairingDecisionWire = z.object({
  channel: z.string().min(1).max(32),
  request_id: z.string().min(1).max(64),
  action: z.enum(['approve', 'dismiss']),
})
export type PairingDecisionWire = z.infer<typeof PairingDecisionWire>

/** Cuts any bot token (`bot<id>:<secret>` in API URLs, or a bare one) out of a message. */
export function redactTokens(text: string, tokens: readonly string[] = []): string {
  let out = text
  for (const t of tokens) if (t) out = out.split(t).join('<token>')
  return out.replace(/[0-9]{3,20}:[A-Za-z0-9_-]{30,80}/g, '<token>')
}

export const PairingListWire = z.object({
  error: z.string().optional(),
  requests: z.array(PairingRequestWire),
})
export type PairingListWire = z.infer<typeof PairingListWire>

export const PairingDoneWire = z.object({ error: z.string().optional(), done: z.boolean() })
export type PairingDoneWire = z.infer<typeof PairingDoneWire>

/** A short fingerprint of one channel's settings, so a change since the start can be told. */
export function channelFingerprint(settings: object): string {
  // Keys sorted: the two sides build the same settings in different key orders.
  const canonical = JSON.stringify(settings, Object.keys(settings).sort())
  return sha256(canonical, 'base64url').slice(0, 22)
}
