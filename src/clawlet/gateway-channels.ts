import type { ChannelsWire, TelegramWire } from '../wire/channels.js'

/**
 * The gateway config's `channels` part, from what the control plane sent. Every key was checked
 * against the pinned OpenClaw package (it refuses unknown keys). A channel is a bundled plugin
 * there, so it is also added to the plugins the gateway may load.
 */

/** The channel ids configured, in a stable order. */
export function channelNames(channels: ChannelsWire | undefined): string[] {
  return Object.entries(channels ?? {})
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k)
    .sort()
}

function telegramConfig(t: TelegramWire): object {
  const requireMention = { requireMention: t.require_mention }
  const groups = t.groups.length
    ? Object.fromEntries(t.groups.map((g) => [g, requireMention]))
    : t.group_policy === 'open'
      ? { '*': requireMention }
      : undefined
  return {
    enabled: true,
    botToken: t.bot_token,
    dmPolicy: t.dm_policy,
    // OpenClaw accepts `open` only with an explicit wildcard.
    ...(t.dm_policy === 'open'
      ? { allowFrom: ['*'] }
      : t.allow_from.length
        ? { allowFrom: t.allow_from }
        : {}),
    groupPolicy: t.group_policy,
    ...(groups ? { groups } : {}),
    // The config file is written by the clawlet at every start; chat commands must not edit it.
    configWrites: false,
  }
}

/** The config with the channels added (and their plugins allowed); the config itself when none. */
export function withChannels(config: object, channels: ChannelsWire | undefined): object {
  const names = channelNames(channels)
  if (!names.length || !channels) return config
  const base = (config as { plugins?: { enabled?: boolean; allow?: string[] } }).plugins
  // Plugins off: only the channels'; an allowlist: theirs added; no allowlist: all load already.
  const plugins =
    !base || base.enabled === false
      ? { enabled: true, allow: names }
      : base.allow
        ? { ...base, allow: [...new Set([...base.allow, ...names])] }
        : base
  return {
    ...config,
    plugins,
    channels: { ...(channels.telegram ? { telegram: telegramConfig(channels.telegram) } : {}) },
  }
}

/** The gateway's environment: channels start only for an instance that has one. */
export function channelsEnv(
  env: Record<string, string>,
  channels: ChannelsWire | undefined,
): Record<string, string> {
  if (!channelNames(channels).length) return env
  const { OPENCLAW_SKIP_CHANNELS: _skip, ...rest } = env
  return rest
}
