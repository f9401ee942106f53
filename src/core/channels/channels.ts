import { cleanText } from '../../door/clawlet/answers.js'
import { errors } from '../../errors.js'
import type { InstanceChannelRow } from '../../store/channels-store.js'
import type { InstanceRow, Store } from '../../store/index.js'
import {
  type ChannelStateWire,
  type ChannelsStateWire,
  type ChannelsWire,
  channelFingerprint,
  redactTokens,
  type TelegramWire,
} from '../../wire/channels.js'
import type { InstanceGateway } from '../instance-gateway.js'
import type { Actor } from '../scope.js'
import type { SecretBox } from '../secret-box.js'
import {
  AVAILABLE_CHANNELS,
  type Channel,
  type ChannelName,
  type ChannelPairingRequest,
  ChannelSettings,
  type TelegramSettingsInput,
} from './channel-types.js'

/** Looks an instance up for an actor: 404 unless it is theirs and in their reach. */
export interface OwnedInstances {
  owned(actor: Actor, id: string): Promise<InstanceRow>
}

const RESTART_HINT = "applies at the instance's next start: reboot it (POST /api/instances/{id}/reboot)"

/**
 * An instance's chat channels: stored with the token sealed, handed to its clawlet when its
 * gateway starts (so changes apply at the next start), their state and DM pairing read from the
 * gateway. A token is never answered, logged or put in an error; only the instance gets it.
 */
export class ChannelService {
  constructor(
    private readonly store: Store,
    private readonly instances: OwnedInstances,
    private readonly gateway: InstanceGateway,
    private readonly box: SecretBox,
  ) {}

  async list(actor: Actor, id: string): Promise<Channel[]> {
    const row = await this.instances.owned(actor, id)
    const channels = await this.store.channels.list(row.id)
    if (!channels.length) return []
    const states = await this.states(row)
    return channels.map((c) => this.view(row, c, states))
  }

  async get(actor: Actor, id: string, name: string): Promise<Channel> {
    const row = await this.instances.owned(actor, id)
    const channel = await this.find(row, name)
    return this.view(row, channel, await this.states(row))
  }

  /** Creates or changes a channel; true in `created` when it is new. */
  async put(
    actor: Actor,
    id: string,
    name: string,
    input: TelegramSettingsInput,
  ): Promise<{ channel: Channel; created: boolean }> {
    const row = await this.instances.owned(actor, id)
    const channelName = this.checkName(name)
    const existing = await this.store.channels.get(row.id, channelName)
    const token = input.bot_token ?? (existing ? this.secretOf(existing).bot_token : undefined)
    if (!token)
      throw errors.channelSettingsInvalid('bot_token', 'bot_token is needed to add the telegram channel.')
    if (input.dm_policy === 'allowlist' && !input.allow_from.length)
      throw errors.channelSettingsInvalid(
        'allow_from',
        'dm_policy "allowlist" needs at least one allow_from user id.',
      )
    const { bot_token: _token, ...settings } = input
    const now = new Date().toISOString()
    await this.store.channels.put({
      instance_id: row.id,
      name: channelName,
      settings: ChannelSettings.parse(settings),
      secret_enc: this.box.seal(JSON.stringify({ bot_token: token })),
      created_at: existing?.created_at ?? now,
      updated_at: now,
    })
    return { channel: await this.get(actor, id, channelName), created: !existing }
  }

  async remove(actor: Actor, id: string, name: string): Promise<void> {
    const row = await this.instances.owned(actor, id)
    if (!(await this.store.channels.remove(row.id, this.checkName(name)))) throw errors.channelNotFound(name)
  }

  async pairing(actor: Actor, id: string, name: string): Promise<ChannelPairingRequest[]> {
    const row = await this.running(actor, id, name)
    const list = await this.gateway.client(row.id).pairing(name)
    if (list.error) throw errors.channelNotRunning(name, cleanText(list.error))
    return list.requests.map((r) => ({
      request_id: cleanText(r.request_id, 64),
      sender_id: cleanText(r.sender_id, 64),
      metadata: Object.fromEntries(
        Object.entries(r.metadata)
          .slice(0, 16)
          .map(([k, v]) => [cleanText(k, 64), cleanText(v, 200)]),
      ),
      created_at: cleanText(r.created_at, 40),
      expires_at: cleanText(r.expires_at, 40),
    }))
  }

  /** Approves (the sender may then message the agent) or dismisses a pending request. */
  async decide(
    actor: Actor,
    id: string,
    name: string,
    requestId: string,
    action: 'approve' | 'dismiss',
  ): Promise<void> {
    const row = await this.running(actor, id, name)
    const done = await this.gateway
      .client(row.id)
      .decidePairing({ channel: name, request_id: requestId, action })
    if (done.error) throw errors.channelNotRunning(name, cleanText(done.error))
    if (!done.done) throw errors.pairingRequestNotFound(requestId)
  }

  /** What the instance's gateway is started with: each channel with its own token. */
  async wireFor(instanceId: string): Promise<ChannelsWire | undefined> {
    const rows = await this.store.channels.list(instanceId)
    const telegram = rows.find((r) => r.name === 'telegram')
    return telegram ? { telegram: this.wireOf(telegram) } : undefined
  }

  private wireOf(row: InstanceChannelRow): TelegramWire {
    return { ...ChannelSettings.parse(row.settings), bot_token: this.secretOf(row).bot_token }
  }

  private secretOf(row: InstanceChannelRow): { bot_token: string } {
    return JSON.parse(this.box.open(row.secret_enc)) as { bot_token: string }
  }

  private checkName(name: string): ChannelName {
    const lower = name.toLowerCase()
    const found = AVAILABLE_CHANNELS.find((c) => c === lower)
    if (!found) throw errors.channelUnsupported(cleanText(name, 64), AVAILABLE_CHANNELS)
    return found
  }

  private async find(row: InstanceRow, name: string): Promise<InstanceChannelRow> {
    const channel = await this.store.channels.get(row.id, this.checkName(name))
    if (!channel) throw errors.channelNotFound(name)
    return channel
  }

  /** The instance, when its gateway runs the channel as stored; 409 otherwise. */
  private async running(actor: Actor, id: string, name: string): Promise<InstanceRow> {
    const row = await this.instances.owned(actor, id)
    const channel = await this.find(row, name)
    const state = this.view(row, channel, await this.states(row))
    if (state.state === 'stopped' || state.state === 'restart_required')
      throw errors.channelNotRunning(channel.name, state.reason ?? state.state)
    return row
  }

  /** The gateway's report of its channels, or why there is none. */
  private async states(row: InstanceRow): Promise<ChannelsStateWire> {
    if (!this.gateway.enabled) return { error: 'the agent is turned off on this server', channels: [] }
    if (row.status !== 'ready') return { error: `the instance is ${row.status}`, channels: [] }
    try {
      return await this.gateway.client(row.id).channels()
    } catch (err) {
      return { error: `its state could not be read (${(err as Error).message})`, channels: [] }
    }
  }

  private view(row: InstanceRow, channel: InstanceChannelRow, states: ChannelsStateWire): Channel {
    const token = this.secretOf(channel).bot_token
    // Whatever the instance reports is cut to size and has the token taken out.
    const safe = (text: string) => cleanText(redactTokens(text, [token]), 500)
    const live = states.channels.find((c) => c.name === channel.name)
    const base = {
      name: channel.name,
      settings: ChannelSettings.parse(channel.settings),
      token_set: true,
      pending_pairings: live?.pending_pairings ?? 0,
      last_inbound_at: live?.last_inbound_at ? safe(live.last_inbound_at) : null,
      created_at: channel.created_at,
      updated_at: channel.updated_at,
    }
    const state = (s: Channel['state'], reason: string | null): Channel => ({ ...base, state: s, reason })
    if (states.error) return state(row.status === 'ready' ? 'error' : 'stopped', safe(states.error))
    if (!live || live.fingerprint !== channelFingerprint(this.wireOf(channel)))
      return state('restart_required', RESTART_HINT.replace('{id}', row.id))
    return this.liveState(live, safe, state)
  }

  private liveState(
    live: ChannelStateWire,
    safe: (text: string) => string,
    state: (s: Channel['state'], reason: string | null) => Channel,
  ): Channel {
    if (live.connected)
      return live.pending_pairings
        ? state('pairing', `${live.pending_pairings} DM pairing request(s) wait for approval`)
        : state('connected', null)
    if (live.error) return state('error', safe(live.error))
    if (!live.running) return state('stopped', 'the agent has not started the channel')
    return state('starting', null)
  }
}
