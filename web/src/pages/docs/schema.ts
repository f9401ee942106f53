/** Just enough of JSON Schema (as OpenAPI 3.1 carries it) to describe and sketch bodies. */
export interface Schema {
  type?: string | string[]
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  enum?: unknown[]
  anyOf?: Schema[]
  oneOf?: Schema[]
  allOf?: Schema[]
  $ref?: string
  description?: string
  default?: unknown
  format?: string
  const?: unknown
}

export interface OpenApi {
  info: { title: string; version: string; description?: string }
  paths: Record<string, Record<string, Operation>>
  components?: { schemas?: Record<string, Schema> }
}

export interface Parameter {
  name: string
  in: 'path' | 'query' | 'header' | 'cookie'
  required?: boolean
  description?: string
  schema?: Schema
}

export interface Operation {
  operationId?: string
  summary?: string
  description?: string
  tags?: string[]
  parameters?: Parameter[]
  requestBody?: { content?: Record<string, { schema?: Schema }> }
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>
}

export function resolve(doc: OpenApi, s: Schema | undefined): Schema | undefined {
  if (!s?.$ref) return s
  const name = s.$ref.split('/').at(-1) ?? ''
  return doc.components?.schemas?.[name]
}

/** A one-line type: `string`, `{ id, status, … }`, `array of Instance`. */
export function typeOf(doc: OpenApi, s: Schema | undefined, depth = 0): string {
  if (!s) return 'any'
  if (s.$ref) return s.$ref.split('/').at(-1) ?? 'object'
  const alt = s.anyOf ?? s.oneOf
  if (alt) return alt.map((a) => typeOf(doc, a, depth)).join(' | ')
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ')
  if (s.const !== undefined) return JSON.stringify(s.const)
  const t = Array.isArray(s.type) ? s.type.join(' | ') : s.type
  if (t === 'array') return `array of ${typeOf(doc, s.items, depth)}`
  if (s.properties) {
    if (depth > 0) return 'object'
    return `{ ${Object.keys(s.properties).join(', ')} }`
  }
  return t ?? 'any'
}

/** An example value to start a request body from. */
export function sketch(doc: OpenApi, s: Schema | undefined, depth = 0): unknown {
  const r = resolve(doc, s)
  if (!r || depth > 4) return null
  if (r.default !== undefined) return r.default
  if (r.enum) return r.enum[0]
  const alt = r.anyOf ?? r.oneOf
  if (alt) return sketch(doc, alt.find((a) => a.type !== 'null') ?? alt[0], depth)
  const t = Array.isArray(r.type) ? r.type.find((x) => x !== 'null') : r.type
  if (t === 'object' || r.properties) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(r.properties ?? {})) {
      if (r.required?.includes(k)) out[k] = sketch(doc, v, depth + 1)
    }
    return out
  }
  if (t === 'array') return []
  if (t === 'string') return r.format === 'date-time' ? new Date().toISOString() : ''
  if (t === 'integer' || t === 'number') return 0
  if (t === 'boolean') return false
  return null
}
