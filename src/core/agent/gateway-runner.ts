import type { ModelBroker } from '../../broker/broker.js'
import { HOW_TO_CONFIGURE_MODEL } from '../../broker/upstream.js'
import type { GatewayConfig } from '../../config.js'
import { AppError } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { Store } from '../../store/index.js'
import type { AgentRunner, TurnEvent, TurnInput } from '../agent.js'
import type { InstanceGateway } from '../instance-gateway.js'

/** How long after a failed model call the broker's own reason is preferred over OpenClaw's. */
const FAILURE_MATCH_SLACK_MS = 1_000

/**
 * Runs turns on the instance's OpenClaw gateway through its clawlet (`POST /v1/gateway/turn`):
 * deltas, tool calls with arguments and results, then exactly one `done` or `error`. Model
 * failures carry the broker's code (`model_not_configured`, `upstream_timeout`, ...); a turn
 * past `turnTimeoutMs` ends with `upstream_timeout`; the signal aborts the run in OpenClaw.
 */
export class GatewayRunner implements AgentRunner {
  constructor(
    private readonly store: Store,
    private readonly gateway: InstanceGateway,
    private readonly broker: ModelBroker,
    private readonly config: Pick<GatewayConfig, 'turnTimeoutMs'>,
    private readonly log: Logger,
  ) {}

  async *runTurn(input: TurnInput): AsyncGenerator<TurnEvent> {
    const started = Date.now()
    const pre = await this.precheck(input.instanceId)
    if (pre) {
      yield pre
      return
    }
    const ctl = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      ctl.abort()
    }, this.config.turnTimeoutMs)
    const onAbort = () => ctl.abort()
    input.signal.addEventListener('abort', onAbort, { once: true })
    if (input.signal.aborted) ctl.abort()
    let ended = false
    try {
      const events = this.gateway
        .client(input.instanceId)
        .turn({ session_key: input.sessionKey, message: input.message }, ctl.signal)
      for await (const e of events) {
        if (e.type === 'error') {
          ended = true
          yield timedOut ? this.timeoutEvent() : this.refine(input.instanceId, e, started)
          return
        }
        if (e.type === 'done') {
          ended = true
          yield e
          return
        }
        yield e as TurnEvent
      }
    } catch (err) {
      if (!ended) {
        ended = true
        if (timedOut) yield this.timeoutEvent()
        else if (input.signal.aborted)
          yield { type: 'error', code: 'aborted', message: 'The turn was aborted.' }
        else if (err instanceof AppError) yield { type: 'error', code: err.code, message: err.message }
        else {
          this.log.error({ err, instanceId: input.instanceId }, 'turn failed')
          yield { type: 'error', code: 'agent_error', message: 'The turn failed inside the instance.' }
        }
      }
    } finally {
      clearTimeout(timer)
      input.signal.removeEventListener('abort', onAbort)
      if (!ended) ctl.abort()
    }
    if (!ended) {
      yield timedOut
        ? this.timeoutEvent()
        : input.signal.aborted
          ? { type: 'error', code: 'aborted', message: 'The turn was aborted.' }
          : { type: 'error', code: 'agent_error', message: 'The instance ended the turn without an answer.' }
    }
  }

  /** A turn that cannot start gets its reason at once, without touching the gateway. */
  private async precheck(instanceId: string): Promise<TurnEvent | undefined> {
    const row = await this.store.instances.get(instanceId)
    if (!row)
      return { type: 'error', code: 'instance_not_found', message: `Instance ${instanceId} was not found.` }
    if (row.status !== 'ready')
      return {
        type: 'error',
        code: 'instance_not_ready',
        message: `Instance ${instanceId} is ${row.status}; wait until it is ready.`,
      }
    if (!(await this.broker.upstreamFor(row.user_id)))
      return { type: 'error', code: 'model_not_configured', message: HOW_TO_CONFIGURE_MODEL }
    if (!this.gateway.enabled)
      return {
        type: 'error',
        code: 'agent_disabled',
        message: 'The OpenClaw gateway is turned off on this server (CLAWPORT_GATEWAY=off).',
      }
    return undefined
  }

  private timeoutEvent(): TurnEvent {
    return {
      type: 'error',
      code: 'upstream_timeout',
      message: `The turn did not finish within ${Math.round(this.config.turnTimeoutMs / 1000)} s.`,
    }
  }

  /** OpenClaw's wording of a model failure is generic; the broker knows what really happened. */
  private refine(instanceId: string, e: Extract<TurnEvent, { type: 'error' }>, started: number): TurnEvent {
    if (e.code !== 'model_error') return e
    const f = this.broker.lastFailure(instanceId, started - FAILURE_MATCH_SLACK_MS)
    return f ? { type: 'error', code: f.code, message: f.message } : e
  }
}
