import type { IncomingMessage } from 'node:http'
import type { z } from 'zod'
import { type AppError, type ErrorCode, errors, isAppError } from '../../errors.js'
import {
  ChannelsStateWire,
  type PairingDecisionWire,
  PairingDoneWire,
  PairingListWire,
} from '../../wire/channels.js'
import { type GatewaySettings, GatewayState, type TurnRequest, WireTurnEvent } from '../../wire/gateway.js'
import { LinkHolder, type TransportSource } from '../transport.js'
import {
  badAnswer,
  CLAWLET_LIMITS,
  type ClawletLimits,
  cleanText,
  readCapped,
  readLines,
  runnerAnswer,
  TimeCap,
  translateError,
} from './answers.js'

/** The control plane's calls to the gateway routes of one instance's clawlet (over its transport). */
export class GatewayClient {
  private readonly links: LinkHolder
  private readonly limits: ClawletLimits
  /** Answers the runner in front of the clawlet gave itself (see `TransportLink.fromRunner`). */
  private readonly runnerAnswers = new WeakSet<IncomingMessage>()

  constructor(
    transport: TransportSource,
    private readonly label: string,
    limits: Partial<ClawletLimits> = {},
  ) {
    this.limits = { ...CLAWLET_LIMITS, ...limits }
    // One connection per call: a turn's stream holds its own for as long as it runs.
    this.links = new LinkHolder(transport, { keepAlive: false })
  }

  state(): Promise<GatewayState> {
    return this.json('GET', '/v1/gateway').then((v) => GatewayState.parse(v))
  }

  /** Sends the gateway's settings (its token); the clawlet starts it unless it already runs. */
  configure(settings: GatewaySettings): Promise<GatewayState> {
    return this.json('PUT', '/v1/gateway', settings).then((v) => GatewayState.parse(v))
  }

  /** The instance's chat channels as its gateway reports them. */
  channels(): Promise<ChannelsStateWire> {
    return this.json('GET', '/v1/gateway/channels').then((v) => this.shape(ChannelsStateWire, v))
  }

  /** A channel's pending DM pairing requests. */
  pairing(channel: string): Promise<PairingListWire> {
    const path = `/v1/gateway/pairing?channel=${encodeURIComponent(channel)}`
    return this.json('GET', path).then((v) => this.shape(PairingListWire, v))
  }

  /** Approves or dismisses a pending DM pairing request. */
  decidePairing(decision: PairingDecisionWire): Promise<PairingDoneWire> {
    return this.json('POST', '/v1/gateway/pairing', decision).then((v) => this.shape(PairingDoneWire, v))
  }

  private shape<T>(schema: z.ZodType<T>, value: unknown): T {
    const parsed = schema.safeParse(value)
    if (!parsed.success) throw badAnswer(this.label, 'sent channel state that is not valid.')
    return parsed.data
  }

  /** Stops the gateway until `wake` (its settings and state are kept). */
  sleep(): Promise<GatewayState> {
    return this.json('POST', '/v1/gateway/sleep').then((v) => GatewayState.parse(v))
  }

  /** Starts a sleeping gateway again; answers at once, while it boots. */
  wake(): Promise<GatewayState> {
    return this.json('POST', '/v1/gateway/wake').then((v) => GatewayState.parse(v))
  }

  /**
   * Runs one turn; yields its events as the clawlet streams them, one at a time as they are
   * asked for (the stream waits for its reader). The caller's signal bounds its time; aborting
   * cancels the run.
   */
  async *turn(body: TurnRequest, signal: AbortSignal): AsyncGenerator<WireTurnEvent> {
    const res = await this.open('POST', '/v1/gateway/turn', body, signal)
    if (res.statusCode !== 200) throw await this.errorFrom(res, signal)
    const max = this.limits.eventLineBytes
    const tooLong = () => badAnswer(this.label, `sent a turn event of more than ${max} bytes.`)
    for await (const line of readLines(res, max, tooLong)) {
      if (!line.trim()) continue
      let event: WireTurnEvent
      try {
        event = WireTurnEvent.parse(JSON.parse(line))
      } catch {
        throw badAnswer(this.label, 'sent a turn event that is not valid.')
      }
      yield fromInstance(event)
    }
  }

  private async json(method: string, path: string, body?: unknown): Promise<unknown> {
    const cap = new TimeCap(this.limits.callMs)
    try {
      const res = await this.open(method, path, body, cap.signal)
      if ((res.statusCode ?? 500) >= 300) throw await this.errorFrom(res, cap.signal)
      const max = this.limits.jsonBytes
      const text = await readCapped(
        res,
        max,
        () => badAnswer(this.label, `answered ${method} ${path} with more than ${max} bytes.`),
        cap.signal,
      )
      try {
        return JSON.parse(text.toString('utf8'))
      } catch {
        throw badAnswer(this.label, `answered ${method} ${path} with an unexpected body.`)
      }
    } catch (err) {
      if (cap.timedOut) throw this.tooSlow(cap.ms)
      if (isAppError(err)) throw err
      throw errors.instanceUnavailable(this.label, 'the connection to its clawlet was lost.')
    } finally {
      cap.clear()
    }
  }

  /**
   * A non-2xx answer as the public error (see `translateError`), or the runner's own as what the
   * same failure gives on this host; read within its own caps.
   */
  private async errorFrom(res: IncomingMessage, signal?: AbortSignal): Promise<AppError> {
    const status = res.statusCode ?? 0
    const cap = new TimeCap(this.limits.callMs, signal)
    const max = this.limits.errorBytes
    try {
      const body = await readCapped(
        res,
        max,
        () => badAnswer(this.label, `answered with status ${status} and more than ${max} bytes.`),
        cap.signal,
      )
      if (this.runnerAnswers.has(res)) {
        const failure = runnerAnswer(this.label, status, body)
        return isAppError(failure) ? failure : this.unreachable(failure)
      }
      return translateError(this.label, status, body)
    } catch (err) {
      if (cap.timedOut) return this.tooSlow(cap.ms)
      return isAppError(err) ? err : translateError(this.label, status, undefined)
    } finally {
      cap.clear()
    }
  }

  private tooSlow(ms: number): AppError {
    return errors.instanceUnavailable(this.label, `its clawlet did not answer within ${ms} ms.`)
  }

  /** The clawlet could not be reached (`err` says why): the next call asks where it is again. */
  private unreachable(err: Error): AppError {
    this.links.forget()
    return errors.instanceUnavailable(
      this.label,
      `its clawlet did not answer (${(err as { code?: string }).code ?? err.message}).`,
    )
  }

  private async open(method: string, path: string, body?: unknown, signal?: AbortSignal) {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const link = await this.links.get().catch((err: unknown) => {
      if (isAppError(err)) throw err
      throw errors.instanceUnavailable(this.label, 'where its clawlet runs could not be found.')
    })
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = link.request({
        method,
        path,
        signal,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
      })
      req.once('response', (res) => {
        if (link.remote && res.statusCode === 401) {
          // The runner in front of the clawlet refused the token: nothing of the call was run.
          this.links.forget()
          req.destroy()
          reject(errors.instanceUnavailable(this.label, "its runner refused the control plane's token."))
          return
        }
        if (link.fromRunner(res)) this.runnerAnswers.add(res)
        resolve(res)
      })
      req.on('error', (err) => {
        if (signal?.aborted) {
          reject(err)
          return
        }
        reject(this.unreachable(err))
      })
      req.end(payload)
    })
  }
}

/** The codes a turn's `error` event may carry from an instance; any other is `agent_error`. */
const TURN_ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'gateway_not_ready',
  'gateway_unavailable',
  'gateway_error',
  'model_error',
  'aborted',
])

/** A turn event from an instance, its error code held to the known ones, its message made safe. */
function fromInstance(e: WireTurnEvent): WireTurnEvent {
  if (e.type !== 'error') return e
  if (!TURN_ERROR_CODES.has(e.code))
    return { type: 'error', code: 'agent_error', message: 'The agent failed the turn inside the instance.' }
  return { type: 'error', code: e.code, message: cleanText(e.message) }
}
