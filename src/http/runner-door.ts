import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { Services } from '../core/services.js'
import { errors } from '../errors.js'
import type { Logger } from '../log.js'
import { RUNNER_HEADER } from '../runner/auth.js'
import { RUNNER_DOOR_PREFIX } from '../runner/door-forward.js'

const DOOR_PATH = /^([0-9a-f-]{36})(\/.*)$/

/**
 * Instances' door calls that their runner forwards (`/_runner/door/<instance>/<path>`), answered
 * as a door on this host would be: the broker under /v1/, the instance-scoped API under /api/.
 * Taken before the app sees them, so no API key, cookie or ticket is ever looked at: the runner's
 * credential and the instance being that runner's are the whole authentication. Anything else
 * is a 404 that names nothing.
 */
export function runnerDoorHandler(services: Services, log: Logger) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (!req.url?.startsWith(RUNNER_DOOR_PREFIX)) return false
    const m = DOOR_PATH.exec(req.url.slice(RUNNER_DOOR_PREFIX.length))
    const notFound = () => {
      const body = JSON.stringify(errors.notFound().toJSON())
      res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    }
    if (!m) {
      notFound()
      return true
    }
    const [, instanceId, rest] = m as unknown as [string, string, string]
    services.runners.doorCaller(req.headers, instanceId).then(
      (caller) => {
        if (!caller) {
          log.warn({ instanceId, runner: req.headers[RUNNER_HEADER] }, 'runner door call refused')
          return notFound()
        }
        req.url = rest
        delete req.headers.authorization
        delete req.headers[RUNNER_HEADER]
        services.control.route(caller)(req, res)
      },
      (err: unknown) => {
        log.warn({ err, instanceId }, 'runner door call failed')
        if (!res.headersSent) {
          const body = JSON.stringify(
            errors.instanceUnavailable(instanceId, 'the control plane is busy').toJSON(),
          )
          res.writeHead(503, { 'content-type': 'application/json' }).end(body)
        }
      },
    )
    return true
  }
}

/**
 * Fastify's HTTP/1 server, made as Fastify makes it (its timeouts), with runners' door calls
 * taken first.
 */
export function serverWithRunnerDoors(services: Services, log: Logger) {
  const doors = runnerDoorHandler(services, log)
  return (handler: http.RequestListener, opts: Record<string, unknown>): http.Server => {
    const server = http.createServer((opts.http ?? {}) as http.ServerOptions, (req, res) => {
      if (!doors(req, res)) handler(req, res)
    })
    server.keepAliveTimeout = opts.keepAliveTimeout as number
    server.requestTimeout = opts.requestTimeout as number
    server.setTimeout(opts.connectionTimeout as number)
    return server
  }
}
