import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import { z } from 'zod'
import { recordRunaway } from '../core/events/transition-events.js'
import type { Services } from '../core/services.js'
import { errors } from '../errors.js'
import { readBody, sendJson } from '../lib/http-body.js'
import type { Logger } from '../log.js'
import { RUNNER_HEADER } from '../runner/auth.js'
import { RUNNER_DOOR_PREFIX, RUNNER_REPORT_PREFIX } from '../runner/door-forward.js'

const DOOR_PATH = /^([0-9a-f-]{36})(\/.*)$/

/**
 * Instances' door calls that their runner forwards (`/_runner/door/<instance>/<path>`), answered
 * as a door on this host would be: the broker under /v1/, the instance-scoped API under /api/.
 * Taken before the app sees them, so no API key, cookie or ticket is ever looked at: the runner's
 * credential and the instance being that runner's are the whole authentication. Anything else
 * is a 404 that names nothing.
 */
export function runnerDoorHandler(services: Services, log: Logger) {
  const reports = runnerReportHandler(services, log)
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.url?.startsWith(RUNNER_REPORT_PREFIX)) {
      reports(req, res)
      return true
    }
    if (!req.url?.startsWith(RUNNER_DOOR_PREFIX)) return false
    const m = DOOR_PATH.exec(req.url.slice(RUNNER_DOOR_PREFIX.length))
    const notFound = () => sendJson(res, 404, errors.notFound().toJSON())
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
        if (!res.headersSent)
          sendJson(res, 503, errors.instanceUnavailable(instanceId, 'the control plane is busy').toJSON())
      },
    )
    return true
  }
}

const RunawayReport = z.object({
  reason: z.enum(['pids_limit', 'memory_limit']),
  processes_killed: z.number().int().min(0),
  pids_limit: z.number().int().min(0),
  pids_limit_hits: z.number().int().min(0),
  memory_limit_mb: z.number().min(0),
  oom_kills: z.number().int().min(0),
  detected_after_ms: z.number().min(0),
})
const REPORT_PATH = /^([0-9a-f-]{36})\/(runaway)$/
const MAX_REPORT_BYTES = 16 * 1024
class ReportTooLarge extends Error {}

/** A runner's report of what its host did to one of its instances, recorded in its event log. */
function runnerReportHandler(services: Services, log: Logger) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const answer = (status: number, body: unknown) => sendJson(res, status, body)
    const m = REPORT_PATH.exec((req.url ?? '').slice(RUNNER_REPORT_PREFIX.length))
    if (!m || req.method !== 'POST') {
      answer(404, errors.notFound().toJSON())
      return
    }
    const instanceId = m[1] as string
    void (async () => {
      const caller = await services.runners.doorCaller(req.headers, instanceId)
      if (!caller) return answer(404, errors.notFound().toJSON())
      const body = await readBody(req, MAX_REPORT_BYTES, () => new ReportTooLarge()).catch((err: unknown) => {
        if (err instanceof ReportTooLarge) return undefined
        throw err
      })
      if (!body) return answer(422, errors.validation('The report is too large.').toJSON())
      const parsed = RunawayReport.safeParse(JSON.parse(body.toString('utf8') || '{}'))
      if (!parsed.success) return answer(422, errors.validation('Not a runaway report.').toJSON())
      await recordRunaway(services.events, instanceId, parsed.data)
      answer(200, { ok: true })
    })().catch((err: unknown) => {
      log.warn({ err, instanceId }, 'runner report failed')
      if (!res.headersSent) answer(422, errors.validation('The report is not readable JSON.').toJSON())
    })
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
