import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import { pipeline } from 'node:stream/promises'
import type { DoorHandler } from '../door/listen.js'
import { sendJson } from '../lib/http-body.js'
import type { Logger } from '../log.js'
import { RUNNER_HEADER } from './auth.js'
import { passOn } from './headers.js'

/** Where runners send the instances' door calls on the control plane. */
export const RUNNER_DOOR_PREFIX = '/_runner/door/'

/**
 * The handler of instances' doors on a runner: the host vouched for the caller (its uid, on the
 * door's socket), so each call goes on to the control plane as that instance's, under the
 * runner's credential, streamed both ways (a model's answer streams back as it comes).
 */
export function forwardDoor(
  server: URL,
  runner: { id: () => string; credential: () => string },
  instanceId: string,
  log: Logger,
): DoorHandler {
  const send = server.protocol === 'https:' ? https.request : http.request
  const agent =
    server.protocol === 'https:' ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true })
  const base = server.pathname.replace(/\/+$/, '')
  return (req: IncomingMessage, res: ServerResponse) => {
    const headers = passOn(req.headers, { dropAddresses: true })
    headers.authorization = `Bearer ${runner.credential()}`
    headers[RUNNER_HEADER] = runner.id()
    const upstream = send({
      agent,
      protocol: server.protocol,
      hostname: server.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: server.port || undefined,
      method: req.method,
      path: `${base}${RUNNER_DOOR_PREFIX}${instanceId}${req.url ?? '/'}`,
      headers,
    })
    upstream.once('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, passOn(answer.headers))
      pipeline(answer, res).catch(() => res.destroy())
    })
    upstream.once('error', (err) => {
      log.warn({ err, instanceId }, 'door call: the control plane is out of reach')
      if (res.headersSent) return void res.destroy()
      sendJson(res, 503, {
        error: {
          message: 'The control plane is out of reach; try again shortly.',
          code: 'control_plane_unreachable',
        },
      })
    })
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy()
    })
    pipeline(req, upstream).catch(() => upstream.destroy())
  }
}

/** Where a runner reports what its hosts did to an instance (a runaway workload ended). */
export const RUNNER_REPORT_PREFIX = '/_runner/report/'

/** Sends one report about an instance to the control plane, under the runner's credential. */
export async function reportToControlPlane(
  server: URL,
  runner: { id: string; credential: string },
  instanceId: string,
  kind: 'runaway',
  body: object,
): Promise<void> {
  const base = server.href.replace(/\/+$/, '')
  const res = await fetch(`${base}${RUNNER_REPORT_PREFIX}${instanceId}/${kind}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${runner.credential}`,
      [RUNNER_HEADER]: runner.id,
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })
  await res.body?.cancel()
  if (!res.ok) throw new Error(`the control plane answered ${res.status}`)
}
