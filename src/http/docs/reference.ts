import { ERROR_CODES } from '../../error-codes.js'
import { PROTOCOLS } from './protocols.js'

/** The parts of an OpenAPI 3.1 document the reference reads. */
type Schema = Record<string, any>
interface Operation {
  operationId?: string
  summary?: string
  description?: string
  tags?: string[]
  security?: unknown[]
  parameters?: Array<{ in: string; name: string; required?: boolean; description?: string; schema?: Schema }>
  requestBody?: { content?: Record<string, { schema?: Schema }> }
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>
}
export interface OpenApiDoc {
  info: { title: string; version: string; description?: string }
  paths: Record<string, Record<string, Operation>>
  components?: { schemas?: Record<string, Schema> }
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete']
const TAG_ORDER = ['discovery', 'instances', 'chat', 'files', 'terminal', 'desktop', 'keys', 'account']

/** `METHOD /path` for every operation, in document order (what the reference must cover). */
export function operationsOf(doc: OpenApiDoc): Array<{ method: string; path: string; op: Operation }> {
  const out: Array<{ method: string; path: string; op: Operation }> = []
  for (const [path, item] of Object.entries(doc.paths))
    for (const method of METHODS) if (item[method]) out.push({ method, path, op: item[method] as Operation })
  return out
}

const refName = (ref: string) => ref.split('/').at(-1) ?? ref

/** A short type expression for a schema: `string`, `array of ChatMessage`, `"a" | "b"`. */
export function typeOf(s: Schema | undefined): string {
  if (!s || Object.keys(s).length === 0) return 'any'
  if (s.$ref) return refName(s.$ref)
  if (s.enum) return s.enum.map((v: unknown) => JSON.stringify(v)).join(' | ')
  if (s.const !== undefined) return JSON.stringify(s.const)
  const alts = s.anyOf ?? s.oneOf
  if (alts) return alts.map(typeOf).join(' or ')
  if (Array.isArray(s.type)) return s.type.join(' or ')
  if (s.type === 'array') return `array of ${typeOf(s.items)}`
  if (s.type === 'object' && !s.properties) return s.additionalProperties ? 'object (map)' : 'object'
  if (s.type === 'object') return 'object'
  return s.format === 'binary' ? 'binary' : (s.type ?? 'any')
}

function limits(s: Schema): string {
  const parts: string[] = []
  if (s.default !== undefined) parts.push(`default ${JSON.stringify(s.default)}`)
  if (s.minimum !== undefined && s.minimum > -1e15) parts.push(`min ${s.minimum}`)
  if (s.maximum !== undefined && s.maximum < 1e15) parts.push(`max ${s.maximum}`)
  if (s.maxLength !== undefined) parts.push(`max length ${s.maxLength}`)
  return parts.join(', ')
}

const cell = (text: string | undefined) => (text ?? '').replace(/\|/g, '\\|').replace(/\n+/g, ' ')

/** Rows `| field | type | required | notes |` for an object's fields, nested ones dotted. */
function fieldRows(s: Schema, prefix = '', depth = 0): string[] {
  const rows: string[] = []
  const required = new Set<string>(s.required ?? [])
  for (const [name, raw] of Object.entries<Schema>(s.properties ?? {})) {
    const f = raw.anyOf?.length === 2 && raw.anyOf.some((a: Schema) => a.type === 'null') ? raw.anyOf[0] : raw
    const nullable = f !== raw ? ' or null' : ''
    const notes = [raw.description ?? f.description, limits(f)].filter(Boolean).join('; ')
    rows.push(
      `| \`${prefix}${name}\` | ${cell(typeOf(f) + nullable)} | ${required.has(name) ? 'yes' : 'no'} | ${cell(notes)} |`,
    )
    const inner = f.type === 'array' ? f.items : f
    if (inner?.properties && depth < 2)
      rows.push(...fieldRows(inner, `${prefix}${name}${f === inner ? '' : '[]'}.`, depth + 1))
  }
  return rows
}

function fieldTable(s: Schema): string {
  const rows = fieldRows(s)
  if (!rows.length) return ''
  return ['| field | type | required | notes |', '|---|---|---|---|', ...rows].join('\n')
}

function objectOf(s: Schema | undefined): Schema | undefined {
  if (!s) return undefined
  if (s.properties) return s
  const alt = (s.anyOf ?? s.oneOf)?.find((a: Schema) => a.properties)
  return alt
}

/** A sample value for a body example: required fields only. */
function sample(s: Schema | undefined, name = ''): unknown {
  if (!s) return null
  if (s.default !== undefined) return s.default
  if (s.enum) return s.enum[0]
  const o = objectOf(s)
  if (o) {
    const out: Record<string, unknown> = {}
    for (const k of o.required ?? []) out[k] = sample(o.properties?.[k], k)
    return out
  }
  if (s.type === 'integer' || s.type === 'number') return name.endsWith('_ms') ? 10000 : 1
  if (s.type === 'boolean') return true
  if (s.type === 'array') return []
  if (name === 'path') return 'notes/hello.txt'
  if (name === 'command') return 'ls -la'
  if (name === 'message') return 'Hello!'
  return 'text'
}

function curlExample(origin: string, method: string, path: string, op: Operation): string {
  const url = `${origin}${path.replace('{id}', '$OPENCLAW_INSTANCE_ID').replace(/\{(\w+)\}/g, (_m, p) => `$${p.toUpperCase()}`)}`
  const query = (op.parameters ?? [])
    .filter((p) => p.in === 'query' && p.required)
    .map((p) => `${p.name}=${encodeURIComponent(String(sample(p.schema, p.name)))}`)
  const full = query.length ? `"${url}?${query.join('&')}"` : `"${url}"`
  const auth = op.security?.length === 0 ? '' : ' -H "Authorization: Bearer $OPENCLAW_API_KEY"'
  const m = method === 'get' ? '' : ` -X ${method.toUpperCase()}`
  const body = op.requestBody?.content?.['application/json']?.schema
  const data = body ? ` -H 'content-type: application/json' -d '${JSON.stringify(sample(body))}'` : ''
  return `curl -s${m}${auth}${data} ${full}`
}

function renderOperation(origin: string, method: string, path: string, op: Operation): string {
  const out = [`### \`${method.toUpperCase()} ${path}\``, '']
  out.push(
    `${op.summary ?? ''} (operationId \`${op.operationId}\`${op.security?.length === 0 ? ', no key needed' : ''})`,
    '',
  )
  if (op.description) out.push(op.description, '')
  const params = op.parameters ?? []
  if (params.length) {
    out.push('| parameter | in | type | required | notes |', '|---|---|---|---|---|')
    for (const p of params) {
      const notes = [p.description, p.schema ? limits(p.schema) : ''].filter(Boolean).join('; ')
      out.push(
        `| \`${p.name}\` | ${p.in} | ${cell(typeOf(p.schema))} | ${p.required ? 'yes' : 'no'} | ${cell(notes)} |`,
      )
    }
    out.push('')
  }
  for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
    out.push(`Body (\`${type}\`): ${cell(media.schema?.description ?? typeOf(media.schema))}`, '')
    const o = objectOf(media.schema)
    if (o) out.push(fieldTable(o), '')
  }
  out.push('Responses:', '')
  const failures: string[] = []
  for (const [status, res] of Object.entries(op.responses ?? {})) {
    const schema = Object.values(res.content ?? {})[0]?.schema
    if (schema?.$ref?.endsWith('/Error')) {
      // Its description lists the status's codes, a "- `code`: meaning" line each.
      const codes = [...(res.description ?? '').matchAll(/^- `([a-z_]+)`:/gm)].map((m) => `\`${m[1]}\``)
      failures.push(`\`${status}\`${codes.length ? ` (${codes.join(', ')})` : ''}`)
      continue
    }
    const desc = res.description && res.description !== 'Default Response' ? ` ${res.description}` : ''
    const what = schema ? typeOf(schema) : 'no body'
    out.push(
      `- \`${status}\`: ${what}${schema?.description && !schema.$ref ? ` (${schema.description})` : ''}${desc}`,
    )
    const inline =
      schema &&
      !schema.$ref &&
      (objectOf(schema) ?? (schema.items?.$ref ? undefined : objectOf(schema.items)))
    if (inline) out.push('', fieldTable(inline), '')
  }
  if (failures.length) out.push(`- errors (Error): ${failures.join(', ')}`)
  out.push('', '```sh', curlExample(origin, method, path, op), '```', '')
  return out.join('\n')
}

/** `/llms-full.md`: the whole reference, generated from the OpenAPI document. */
export function renderReference(doc: OpenApiDoc, origin: string): string {
  const out = [
    `# ${doc.info.title} ${doc.info.version}: the complete reference`,
    '',
    `${doc.info.description ?? ''} Generated from the server's OpenAPI document (${origin}/api/openapi.json); quick start: ${origin}/llms.txt; operating guide: ${origin}/agent.md.`,
    '',
    '## Conventions',
    '',
    `- Base URL: \`${origin}/api\`. Every endpoint except \`GET /api\` needs \`Authorization: Bearer <key>\` (keys look like \`sk_live_...\`; make them at ${origin}/account). Examples read the key from \`$OPENCLAW_API_KEY\` and the instance id from \`$OPENCLAW_INSTANCE_ID\`.`,
    '- JSON bodies, snake_case fields (the upload body also takes camelCase `targetDir`, `fileName`). Lists are bare JSON arrays. Time stamps are ISO-8601 UTC with milliseconds; instance ids are UUIDs.',
    '- Any non-2xx answer is JSON `{"message", "code", "status", "details"?}`: print `message`, branch on `code` (see Error codes).',
    '- An instance that is not yours answers 404, never 403. Anything but `status: "ready"` means the instance is not usable yet.',
    '',
  ]
  const byTag = new Map<string, string[]>()
  for (const { method, path, op } of operationsOf(doc)) {
    const tag = op.tags?.[0] ?? 'other'
    byTag.set(tag, [...(byTag.get(tag) ?? []), renderOperation(origin, method, path, op)])
  }
  const tags = [...byTag.keys()].sort((a, b) => rank(a) - rank(b))
  for (const tag of tags)
    out.push(`## ${tag[0]?.toUpperCase()}${tag.slice(1)}`, '', ...(byTag.get(tag) ?? []))
  out.push('## Schemas', '')
  for (const [name, s] of Object.entries(doc.components?.schemas ?? {})) {
    if (name.endsWith('Input')) continue
    out.push(`### ${name}`, '', ...(s.description ? [s.description, ''] : []), fieldTable(s), '')
  }
  out.push(PROTOCOLS, '', '## Error codes', '', '| code | status | meaning |', '|---|---|---|')
  for (const [code, info] of Object.entries(ERROR_CODES).sort((a, b) => a[1].status - b[1].status))
    out.push(`| \`${code}\` | ${info.status} | ${cell(info.meaning)} |`)
  out.push('')
  return out.join('\n')
}

function rank(tag: string): number {
  const i = TAG_ORDER.indexOf(tag)
  return i < 0 ? TAG_ORDER.length : i
}
