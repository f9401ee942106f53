import fs from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import path from 'node:path'
import type { Services } from '../../src/core/services.js'
import type { Caller as DoorCaller } from '../../src/door/caller.js'

type Schema = Record<string, any>

/** One operation of the OpenAPI document. */
export interface Operation {
  method: string
  /** The OpenAPI path, `{param}` style. */
  path: string
  operationId: string
  /** `security: []`: callable without a key. */
  public: boolean
  params: string[]
  query: Array<{ name: string; schema: Schema }>
  body?: Schema
  websocket: boolean
}

/** Every operation the app documents, so a route added later is in the matrix at once. */
export function operations(doc: Schema): Operation[] {
  const out: Operation[] = []
  for (const [p, item] of Object.entries<Schema>(doc.paths)) {
    for (const [method, op] of Object.entries<Schema>(item)) {
      const parameters: Schema[] = op.parameters ?? []
      out.push({
        method: method.toUpperCase(),
        path: p,
        operationId: op.operationId ?? `${method} ${p}`,
        public: Array.isArray(op.security) && op.security.length === 0,
        params: parameters.filter((x) => x.in === 'path').map((x) => x.name),
        query: parameters
          .filter((x) => x.in === 'query' && x.required)
          .map((x) => ({ name: x.name, schema: x.schema })),
        body: op.requestBody?.content?.['application/json']?.schema,
        websocket: Boolean(op.responses?.['101']),
      })
    }
  }
  return out
}

/** The smallest value a JSON schema accepts (required properties only), for a request that passes validation. */
export function example(doc: Schema, schema: Schema | undefined, depth = 0): unknown {
  if (!schema || depth > 12) return undefined
  if (schema.$ref) {
    const name = String(schema.$ref).split('/').pop() as string
    return example(doc, doc.components?.schemas?.[name], depth + 1)
  }
  if ('const' in schema) return schema.const
  if (schema.default !== undefined) return schema.default
  if (schema.enum) return schema.enum[0]
  const alts: Schema[] | undefined = schema.anyOf ?? schema.oneOf
  if (alts) return example(doc, alts.find((a) => a.type !== 'null') ?? alts[0], depth + 1)
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map((s: Schema) => example(doc, s, depth + 1)))
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {}
      for (const k of schema.required ?? []) out[k] = example(doc, schema.properties?.[k], depth + 1)
      return out
    }
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => example(doc, schema.items, depth + 1))
    case 'string':
      if (schema.format === 'uuid') return '00000000-0000-4000-8000-000000000000'
      if (schema.format === 'email') return 'nobody@example.com'
      if (schema.format === 'date-time') return '2099-01-01T00:00:00.000Z'
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1))
    case 'integer':
    case 'number':
      return schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1)
    case 'boolean':
      return false
    default:
      return undefined
  }
}

/**
 * Serves the app's instance-door handler on a Unix socket of its own, as the server does on
 * each instance's control socket, so a request reaches the app exactly as a call from inside
 * that instance does (same handler, same raw request), without starting a sandbox.
 */
export async function doorClient(
  handler: (caller: DoorCaller, req: IncomingMessage, res: ServerResponse) => void,
  caller: DoorCaller,
  dir: string,
): Promise<{
  request(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }>
  close(): Promise<void>
}> {
  const socketPath = path.join(dir, `door-${caller.instanceId.slice(0, 8)}.sock`)
  fs.rmSync(socketPath, { force: true })
  const server = http.createServer((req, res) => handler(caller, req, res))
  await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  return {
    request(method, url, body) {
      const payload = body === undefined ? undefined : JSON.stringify(body)
      return new Promise((resolve, reject) => {
        const req = http.request(
          {
            socketPath,
            method,
            path: url,
            headers: payload ? { 'content-type': 'application/json' } : {},
          },
          (res) => {
            const chunks: Buffer[] = []
            res.on('data', (c: Buffer) => chunks.push(c))
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString()
              let parsed: unknown = text
              try {
                parsed = text ? JSON.parse(text) : text
              } catch {}
              resolve({ status: res.statusCode ?? 0, body: parsed })
            })
          },
        )
        req.on('error', reject)
        req.end(payload)
      })
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** Captures the handler the app mounts on instances' doors; call before buildApp. */
export function captureDoor(services: Services): () => Parameters<Services['control']['serveApi']>[0] {
  let handler: Parameters<Services['control']['serveApi']>[0] | undefined
  const serveApi = services.control.serveApi.bind(services.control)
  services.control.serveApi = (h) => {
    handler = h
    serveApi(h)
  }
  return () => {
    if (!handler) throw new Error('the app mounted no door handler')
    return handler
  }
}
