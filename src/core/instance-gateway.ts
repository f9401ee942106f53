import { randomBytes } from 'node:crypto'
import type { GatewayConfig } from '../config.js'
import type { Caller } from '../door/caller.js'
import { cleanText } from '../door/clawlet/answers.js'
import { GatewayClient } from '../door/clawlet/gateway-client.js'
import type { ControlSockets } from '../door/control-sockets.js'
import type { InstanceDriver } from '../drivers/driver.js'
import type { Logger } from '../log.js'
import type { InstanceRow } from '../store/index.js'
import type { ChannelsWire } from '../wire/channels.js'
import type { GatewayState } from '../wire/gateway.js'

const POLL_MS = 250

/** The gateway part of an instance's status detail. */
export interface GatewayReadiness {
  status: string
  detail?: string
  restarts?: number
  pid?: number
  ready_ms?: number
}

/**
 * The instance lifecycle's gateway steps: the control socket before the sandbox starts, the
 * gateway's token and readiness once the clawlet answers, and its state for status. The token
 * is made here, sent only to the instance's clawlet, and never stored or logged.
 */
export class InstanceGateway {
  constructor(
    private readonly config: GatewayConfig,
    private readonly driver: InstanceDriver,
    private readonly sockets: ControlSockets,
    private readonly log: Logger,
  ) {}

  /** The instance's chat channels, with their tokens, for its gateway's start. */
  channelsFor?: (instanceId: string) => Promise<ChannelsWire | undefined>

  get enabled(): boolean {
    return this.config.enabled
  }

  client(id: string): GatewayClient {
    return new GatewayClient(() => this.driver.endpoint(id), id)
  }

  /** Opens the instance's door back to the control plane (before its sandbox starts, or when adopting it). */
  async attach(row: InstanceRow): Promise<void> {
    const caller: Caller = { instanceId: row.id, userId: row.user_id }
    await this.sockets.open(caller, row.host_uid, this.driver)
  }

  async detach(id: string): Promise<void> {
    await this.sockets.close(id)
  }

  /** Starts the gateway with a fresh token and waits until it is ready; throws on timeout. */
  async start(row: InstanceRow): Promise<void> {
    if (!this.enabled) return
    const started = performance.now()
    const client = this.client(row.id)
    const channels = await this.channelsFor?.(row.id)
    let state = await client.configure({
      token: randomBytes(32).toString('base64url'),
      ...(channels ? { channels } : {}),
    })
    const deadline = started + this.config.readyTimeoutMs
    while (state.status !== 'ready') {
      // The instance's words end up in its status and logs: made safe and bounded first.
      if (state.status === 'disabled' && state.error) throw new Error(cleanText(state.error))
      if (performance.now() > deadline) {
        throw new Error(
          `the OpenClaw gateway was not ready within ${this.config.readyTimeoutMs} ms (${state.status}${state.error ? `: ${cleanText(state.error)}` : ''})`,
        )
      }
      await new Promise((r) => setTimeout(r, POLL_MS))
      state = await client.state()
    }
    this.log.info(
      { instanceId: row.id, ms: Math.round(performance.now() - started), restarts: state.restarts },
      'gateway ready',
    )
  }

  /** The status detail's gateway part, from the clawlet's health. */
  readiness(state: GatewayState | undefined): GatewayReadiness {
    if (!this.enabled)
      return {
        status: 'disabled',
        detail: 'the OpenClaw gateway is turned off on this server (CLAWPORT_GATEWAY=off)',
      }
    if (!state) return { status: 'unknown', detail: 'the instance is not running' }
    if (state.status === 'disabled' && !state.error)
      return { status: 'starting', detail: 'waiting for its settings' }
    return {
      status: state.status,
      ...(state.error ? { detail: cleanText(state.error) } : {}),
      restarts: state.restarts,
      ...(state.pid ? { pid: state.pid } : {}),
      ...(state.ready_ms !== undefined ? { ready_ms: state.ready_ms } : {}),
    }
  }
}
