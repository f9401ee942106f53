import type { IncomingMessage, ServerResponse } from 'node:http'
import { errors } from '../errors.js'
import { sendJson } from '../lib/http-body.js'
import { GatewaySettings, TurnRequest, type WireTurnEvent } from '../wire/gateway.js'
import type { GatewaySupervisor } from './gateway.js'
import { runGatewayTurn } from './gateway-turn.js'
import { readJson } from './json-body.js'

type Handler = (ctx: { req: IncomingMessage; res: ServerResponse }) => Promise<void>

/** Most bytes of a gateway route's JSON body (settings, a turn, a pairing decision). */
export const GATEWAY_BODY_MAX_BYTES = 16 * 1024 * 1024

/** The clawlet's gateway routes: state, start (with the control plane's token), sleep, wake, one turn. */
export function gatewayRoutes(gateway: GatewaySupervisor): Array<[string, Handler]> {
  return [
    ['GET /v1/gateway', async ({ res }) => sendJson(res, 200, gateway.state())],
    [
      'PUT /v1/gateway',
      async ({ req, res }) =>
        sendJson(
          res,
          200,
          await gateway.configure(await readJson(req, GatewaySettings, GATEWAY_BODY_MAX_BYTES)),
        ),
    ],
    // Sleep stops the process until wake (no crash restart); wake answers at once, still starting.
    ['POST /v1/gateway/sleep', async ({ res }) => sendJson(res, 200, await gateway.sleep())],
    ['POST /v1/gateway/wake', async ({ res }) => sendJson(res, 200, gateway.wake())],
    [
      'POST /v1/gateway/turn',
      async ({ req, res }) => {
        const body = await readJson(req, TurnRequest, GATEWAY_BODY_MAX_BYTES)
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
