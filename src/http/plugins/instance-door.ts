import type { IncomingMessage } from 'node:http'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Services } from '../../core/services.js'
import type { Caller as DoorCaller } from '../../door/caller.js'
import { errors } from '../../errors.js'

const DOOR = Symbol('clawport.instanceDoor')

type DoorRequest = IncomingMessage & { [DOOR]?: DoorCaller }

/**
 * What an instance may call on its door (any other route, present or future, is a 404). Keys,
 * the account, model settings, billing and administration are not here: from inside they do
 * not exist. Which resources of these routes it may reach is not decided here but by the core
 * services, through the instance-scoped caller (see core/scope.ts).
 */
const ALLOWED: Array<{ method?: string; url: RegExp }> = [
  { url: /^\/api\/?$/ },
  { url: /^\/api\/self(\/|$)/ },
  { method: 'GET', url: /^\/api\/instances$/ },
  { url: /^\/api\/instances\/:id(\/|$)/ },
  { url: /^\/api\/swarms(\/|$)/ },
  { url: /^\/api\/pipelines(\/|$)/ },
]

/** The instance a request came from, when it came through an instance's door. */
export function doorOf(request: FastifyRequest): DoorCaller | undefined {
  return (request.raw as DoorRequest)[DOOR]
}

/**
 * Serves the app on every instance's control socket: a request there is the instance itself,
 * acting for its owner within `ALLOWED`, with no key; its caller carries `instanceId`, which
 * confines it in every core service. Register before the auth hook: it establishes the caller,
 * so the auth hook leaves it.
 */
export function registerInstanceDoor(app: FastifyInstance, services: Services): void {
  services.control.serveApi((caller, req, res) => {
    ;(req as DoorRequest)[DOOR] = caller
    app.ready().then(
      () => app.routing(req, res),
      () => res.writeHead(503).end(),
    )
  })
  app.addHook('onRequest', async (request) => {
    const door = doorOf(request)
    if (!door) return
    const caller = await services.keys.authenticateInstance(door.instanceId)
    const url = request.routeOptions.url
    const method = request.method
    if (!url || !ALLOWED.some((a) => a.url.test(url) && (!a.method || a.method === method)))
      throw errors.routeNotFound(method, request.url.split('?')[0] as string)
    request.caller = caller
  })
}

/** A chat message sent through an instance's door records that instance as its sender. */
export function withSender<T extends object>(
  request: FastifyRequest,
  body: T,
): T & { from_instance?: string } {
  const id = request.caller?.instanceId
  return id ? { ...body, from_instance: id } : body
}
