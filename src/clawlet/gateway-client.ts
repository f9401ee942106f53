import { request } from 'node:http'
import { type DoorEndpoint, doorConnector } from '../door/connect.js'
import { AppError, errors } from '../errors.js'
import { type GatewaySettings, GatewayState, type TurnRequest, WireTurnEvent } from './gateway-protocol.js'

/** The control plane's calls to the gateway routes of one instance's clawlet (its socket). */
export class GatewayClient {
  private readonly connector: ReturnType<typeof doorConnector>

  constructor(
    endpoint: DoorEndpoint,
    private readonly label: string,
  ) {
    this.connector = doorConnector(endpoint)
  }

  state(): Promise<GatewayState> {
    return this.json('GET', '/v1/gateway').then((v) => GatewayState.parse(v))
  }

  /** Sends the gateway's settings (its token); the clawlet starts it unless it already runs. */
  configure(settings: GatewaySettings): Promise<GatewayState> {
    return this.json('PUT', '/v1/gateway', settings).then((v) => GatewayState.parse(v))
  }

  /** Runs one turn; yields its events as the clawlet streams them. Aborting cancels the run. */
  async *turn(body: TurnRequest, signal: AbortSignal): AsyncGenerator<WireTurnEvent> {
    const res = await this.open('POST', '/v1/gateway/turn', body, signal)
    if (res.statusCode !== 200) throw await errorFrom(res, this.label)
    let tail = ''
    for await (const chunk of res as AsyncIterable<Buffer>) {
      tail += chunk.toString('utf8')
      const lines = tail.split('\n')
      tail = lines.pop() ?? ''
      for (const line of lines) if (line.trim()) yield WireTurnEvent.parse(JSON.parse(line))
    }
  }

  private async json(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await this.open(method, path, body)
    if ((res.statusCode ?? 500) >= 300) throw await errorFrom(res, this.label)
    return JSON.parse(await readAll(res))
  }

  private open(method: string, path: string, body?: unknown, signal?: AbortSignal) {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    return new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request(
        {
          createConnection: this.connector as never,
          method,
          path,
          signal,
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        },
        resolve,
      )
      req.on('error', (err) => {
        if (signal?.aborted) reject(err)
        else
          reject(
            errors.instanceUnavailable(
              this.label,
              `its clawlet did not answer (${(err as { code?: string }).code ?? err.message}).`,
            ),
          )
      })
      req.end(payload)
    })
  }
}

async function readAll(res: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of res) chunks.push(c)
  return Buffer.concat(chunks).toString('utf8')
}

async function errorFrom(res: import('node:http').IncomingMessage, label: string): Promise<AppError> {
  const status = res.statusCode ?? 502
  try {
    const body = JSON.parse(await readAll(res)) as { message?: string; code?: string }
    if (body.message && body.code) return new AppError(status, body.code, body.message)
  } catch {}
  return new AppError(502, 'clawlet_bad_answer', `Instance ${label} answered with status ${status}.`)
}
