import type { IncomingMessage, ServerResponse } from 'node:http'
import type { z } from 'zod'
import { errors } from '../errors.js'
import { GatewaySettings, TurnRequest, type WireTurnEvent } from '../wire/gateway.js'
import type { GatewaySupervisor } from './gateway.js'
import { runGatewayTurn } from './gateway-turn.js'

type Handler = (ctx: { req: IncomingMessage; res: ServerResponse }) => Promise<void>

/** Parses a small JSON body (settings, a turn) against its schema. */
export async function readBody<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > 16 * 1024 * 1024) throw errors.tooLarge('The request body is too large.')
    chunks.push(chunk)
  }
  let value: unknown
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw errors.validation('The request body is not valid JSON.')
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success)
    throw errors.validation(
      `The request body is not valid: ${parsed.error.issues.map((i) => i.message).join('; ')}.`,
    )
  return parsed.data
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

/** The clawlet's gateway routes: state, start (with the control plane's token), sleep, wake, one turn. */
export function gatewayRoutes(gateway: GatewaySupervisor): Array<[string, Handler]> {
  return [
    ['GET /v1/gateway', async ({ res }) => json(res, 200, gateway.state())],
    [
      'PUT /v1/gateway',
      async ({ req, res }) => json(res, 200, await gateway.configure(await readBody(req, GatewaySettings))),
    ],
    // Sleep stops the process until wake (no crash restart); wake answers at once, still starting.
    ['POST /v1/gateway/sleep', async ({ res }) => json(res, 200, await gateway.sleep())],
    ['POST /v1/gateway/wake', async ({ res }) => json(res, 200, gateway.wake())],
    [
      'POST /v1/gateway/turn',
      async ({ req, res }) => {
        const body = await readBody(req, TurnRequest)
        const controller = new AbortController()
        res.once('close', () => {
          if (!res.writableFinished) controller.abort()
        })
        res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' })
        res.flushHeaders()
        const emit = (e: WireTurnEvent) => {
          if (!res.destroyed) res.write(`${JSON.stringify(e)}\n`)
        }
        await runGatewayTurn(gateway, body, emit, controller.signal)
        res.end()
      },
    ],
  ]
}
