import { z } from 'zod'
import { TELEGRAM_TOKEN_RE } from '../../wire/channels.js'

/**
 * Chat channels of an instance's OpenClaw: the names this server offers (the channels the
 * pinned OpenClaw package bundles), what an owner sets for each, and what they see back: never
 * the token itself.
 */

/** Channels the pinned OpenClaw package has; Slack and Discord are not bundled in it. */
export const AVAILABLE_CHANNELS = ['telegram'] as const
export type ChannelName = (typeof AVAILABLE_CHANNELS)[number]

export const ChannelParams = z.object({
  id: z.string().describe('Instance id (UUID)'),
  name: z
    .string()
    .max(64)
    .describe(`Channel name: ${AVAILABLE_CHANNELS.join(', ')}`),
})

export const TelegramSettingsInput = z
  .strictObject({
    bot_token: z
      .string()
      .regex(TELEGRAM_TOKEN_RE, 'bot_token must be a Telegram bot token from @BotFather (<bot id>:<secret>)')
      .optional()
      .describe('Needed the first time; absent on a change: the stored token is kept. Never shown again'),
    dm_policy: z
      .enum(['pairing', 'allowlist', 'open', 'disabled'])
      .default('pairing')
      .describe('pairing: unknown senders get a code and wait for your approval; open: anyone'),
    allow_from: z
      .array(z.string().regex(/^[0-9]{1,20}$/, 'allow_from entries are numeric Telegram user ids'))
      .max(100)
      .default([])
      .describe('Telegram user ids allowed to message the bot (needed for dm_policy allowlist)'),
    group_policy: z.enum(['allowlist', 'open', 'disabled']).default('allowlist'),
    groups: z
      .array(z.string().regex(/^-?[0-9]{1,20}$/, 'groups entries are numeric Telegram chat ids'))
      .max(100)
      .default([])
      .describe('Group chat ids the bot answers in'),
    require_mention: z.boolean().default(true).describe('In groups, answer only when mentioned'),
  })
  .meta({ id: 'TelegramChannelSettings' })
export type TelegramSettingsInput = z.infer<typeof TelegramSettingsInput>

/** The stored settings of a channel, without its token. */
export const ChannelSettings = TelegramSettingsInput.omit({ bot_token: true })
export type ChannelSettings = z.infer<typeof ChannelSettings>

export const ChannelState = z
  .enum(['connected', 'pairing', 'starting', 'error', 'stopped', 'restart_required'])
  .describe(
    'connected; pairing: connected, with DM pairing requests waiting for approval; starting; error (see reason); stopped: the instance or its agent is not running; restart_required: changed since the agent started, applies at its next start',
  )

export const Channel = z
  .object({
    name: z.string(),
    settings: ChannelSettings,
    token_set: z.boolean(),
    state: ChannelState,
    reason: z.string().nullable(),
    pending_pairings: z.number().int(),
    last_inbound_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Channel' })
export type Channel = z.infer<typeof Channel>

export const ChannelPairingRequest = z
  .object({
    request_id: z.string().describe('Approve or dismiss with this id'),
    sender_id: z.string().describe("The sender's id on the channel (a Telegram user id)"),
    metadata: z.record(z.string(), z.string()).describe('The name and username the channel gave'),
    created_at: z.string(),
    expires_at: z.string(),
  })
  .meta({ id: 'ChannelPairingRequest' })
export type ChannelPairingRequest = z.infer<typeof ChannelPairingRequest>

export const PairingParams = ChannelParams.extend({ request_id: z.string().min(1).max(64) })
