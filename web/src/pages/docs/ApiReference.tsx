import { type FormEvent, useId, useMemo, useState } from 'react'
import { apiHeaders, get } from '../../api'
import { ErrorNote, Field, Spinner, useLoad } from '../../components/ui'
import { type OpenApi, type Operation, resolve, type Schema, sketch, typeOf } from './schema'

const METHODS = ['get', 'post', 'put', 'patch', 'delete']

/** Reason phrases, for responses the document leaves as its generator's "Default Response". */
const REASONS: Record<string, string> = {
  '200': 'OK',
  '201': 'Created',
  '202': 'Accepted: it goes on in the background',
  '204': 'No content',
  '400': 'Bad request',
  '401': 'Not signed in',
  '403': 'Forbidden',
  '404': 'Not found',
  '409': 'Conflict',
  '413': 'Too large',
  '422': 'Invalid input',
  '429': 'Rate limited',
  '500': 'Server error',
  '502': 'Bad gateway',
  '503': 'Unavailable for now',
  '504': 'Timed out',
}

/** A response's description: the document's own, else the status's meaning and its schema's. */
function describeResponse(
  doc: OpenApi,
  code: string,
  r: { description?: string; content?: Record<string, { schema?: Schema }> },
): string {
  if (r.description && r.description !== 'Default Response') return r.description
  const schema = resolve(doc, r.content?.['application/json']?.schema)
  const own = schema?.description ?? resolve(doc, schema?.items)?.description
  const reason = REASONS[code] ?? `HTTP ${code}`
  return own ? `${reason}: ${own}` : reason
}

/** An error response's codes, when its description is the document's list of `- \`code\`: meaning` lines. */
function errorCodes(description?: string): Array<{ code: string; meaning: string }> | undefined {
  const lines = description?.split('\n') ?? []
  const codes = lines.map((l) => /^- `([a-z0-9_]+)`: (.*)$/.exec(l)).filter((m) => m !== null)
  if (codes.length === 0 || codes.length !== lines.length) return undefined
  return codes.map((m) => ({ code: m[1] as string, meaning: m[2] as string }))
}

/** Text with `inline code` spans, as the document writes them. */
function Inline({ text }: { text: string }) {
  return (
    <>
      {text.split('`').map((part, i) =>
        // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one fixed string, in order
        i % 2 === 1 ? <code key={i}>{part}</code> : <span key={i}>{part}</span>,
      )}
    </>
  )
}

function Props({ doc, schema }: { doc: OpenApi; schema?: Schema }) {
  const s = resolve(doc, schema)
  if (!s?.properties) return <code className="schema">{typeOf(doc, schema)}</code>
  return (
    <table className="schema">
      <tbody>
        {Object.entries(s.properties).map(([k, v]) => (
          <tr key={k}>
            <td>
              <code>{k}</code>
              {s.required?.includes(k) ? '' : '?'}
            </td>
            <td>
              <code>{typeOf(doc, v, 1)}</code>
            </td>
            <td className="muted">{v.description}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** One operation: what it takes and answers, and a form that calls it as the signed-in user. */
function Op({ doc, method, path, op }: { doc: OpenApi; method: string; path: string; op: Operation }) {
  const params = (op.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query')
  const uid = useId()
  const bodySchema = op.requestBody?.content?.['application/json']?.schema
  const [values, setValues] = useState<Record<string, string>>({})
  const [body, setBody] = useState(() => (bodySchema ? JSON.stringify(sketch(doc, bodySchema), null, 2) : ''))
  const [result, setResult] = useState<{ status: number; text: string } | null>(null)
  const [error, setError] = useState<string>()
  // Required parameters left empty: nothing is sent until they are filled in.
  const [missing, setMissing] = useState<Set<string>>(new Set())
  const send = async (e: FormEvent) => {
    e.preventDefault()
    setError(undefined)
    const empty = params.filter((p) => (p.in === 'path' || p.required) && !values[p.name]?.trim())
    setMissing(new Set(empty.map((p) => p.name)))
    if (empty.length) {
      document.querySelector<HTMLElement>(`[data-param="${uid}-${empty[0]?.name}"]`)?.focus()
      return
    }
    let url = path.replace(/\{(\w+)\}/g, (_, n: string) => encodeURIComponent(values[n] ?? ''))
    const q = new URLSearchParams()
    for (const p of params) if (p.in === 'query' && values[p.name]) q.set(p.name, values[p.name] as string)
    if (q.size) url += `?${q}`
    try {
      const res = await fetch(url, {
        method: method.toUpperCase(),
        headers: apiHeaders(bodySchema ? { 'content-type': 'application/json' } : {}),
        body: bodySchema && body.trim() ? body : undefined,
      })
      const text = await res.text()
      let pretty = text
      try {
        pretty = JSON.stringify(JSON.parse(text), null, 2)
      } catch {
        // Not JSON (a stream, a file): shown as it came.
      }
      setResult({ status: res.status, text: pretty.slice(0, 20_000) })
    } catch (err) {
      setError((err as Error).message)
    }
  }
  return (
    <details className="op" id={op.operationId}>
      <summary>
        <span className={`method ${method}`}>{method}</span>
        <code>{path}</code>
        <span className="muted">{op.summary}</span>
      </summary>
      <div className="body">
        {op.description && <p>{op.description}</p>}
        {params.length > 0 && <h3>Parameters</h3>}
        {params.map((p) => (
          <Field
            key={`${p.in}:${p.name}`}
            label={`${p.name} (${p.in}${p.required ? ', required' : ''})`}
            hint={p.description}
          >
            {(id) => (
              <>
                <input
                  id={id}
                  data-param={`${uid}-${p.name}`}
                  required={p.in === 'path' || p.required}
                  aria-invalid={missing.has(p.name) || undefined}
                  aria-describedby={missing.has(p.name) ? `${id}-error` : undefined}
                  placeholder={typeOf(doc, p.schema)}
                  value={values[p.name] ?? ''}
                  onChange={(e) => {
                    setValues((v) => ({ ...v, [p.name]: e.target.value }))
                    if (e.target.value.trim())
                      setMissing((m) => (m.has(p.name) ? new Set([...m].filter((n) => n !== p.name)) : m))
                  }}
                />
                {missing.has(p.name) && (
                  <small id={`${id}-error`} className="error" role="alert">
                    Fill in {p.name} before sending: the request needs it.
                  </small>
                )}
              </>
            )}
          </Field>
        ))}
        {bodySchema && (
          <>
            <h3>Body</h3>
            <Props doc={doc} schema={bodySchema} />
            <Field label="JSON body">
              {(id) => (
                <textarea
                  id={id}
                  className="mono"
                  rows={5}
                  value={body}
                  onChange={(e) => setBody(e.target.value)}
                />
              )}
            </Field>
          </>
        )}
        <h3>Responses</h3>
        <ul>
          {Object.entries(op.responses ?? {}).map(([code, r]) => {
            const codes = errorCodes(r.description)
            return (
              <li key={code}>
                <code>{code}</code>{' '}
                {codes ? (REASONS[code] ?? `HTTP ${code}`) : describeResponse(doc, code, r)}{' '}
                {r.content?.['application/json'] && (
                  <code className="muted">{typeOf(doc, r.content['application/json'].schema)}</code>
                )}
                {codes && (
                  <ul>
                    {codes.map((c) => (
                      <li key={c.code}>
                        <code>{c.code}</code> <Inline text={c.meaning} />
                      </li>
                    ))}
                  </ul>
                )}
              </li>
            )
          })}
        </ul>
        <form onSubmit={send}>
          <button type="submit" className="secondary small">
            Try it
          </button>
        </form>
        <ErrorNote error={error} />
        {result && (
          <pre>
            {result.status}
            {'\n'}
            {result.text}
          </pre>
        )}
      </div>
    </details>
  )
}

/** The interactive reference, generated from /api/openapi.json. */
export function ApiReference() {
  const { data: doc, error } = useLoad((s) => get<OpenApi>('/api/openapi.json', s), [])
  const [filter, setFilter] = useState('')
  const groups = useMemo(() => {
    const out = new Map<string, { method: string; path: string; op: Operation }[]>()
    for (const [path, item] of Object.entries(doc?.paths ?? {})) {
      for (const method of METHODS) {
        const op = item[method]
        if (!op) continue
        const text = `${method} ${path} ${op.summary ?? ''}`.toLowerCase()
        if (filter && !text.includes(filter.toLowerCase())) continue
        const tag = op.tags?.[0] ?? 'other'
        out.set(tag, [...(out.get(tag) ?? []), { method, path, op }])
      }
    }
    return out
  }, [doc, filter])
  if (error) return <ErrorNote error={error} />
  if (!doc) return <Spinner />
  return (
    <div>
      <Field label="Filter operations">
        {(id) => (
          <input
            id={id}
            type="search"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            placeholder="chat, files, POST…"
          />
        )}
      </Field>
      {[...groups].map(([tag, ops]) => (
        <section key={tag} aria-label={tag}>
          <h3 style={{ textTransform: 'capitalize' }}>{tag}</h3>
          {ops.map((o) => (
            <Op key={`${o.method} ${o.path}`} doc={doc} {...o} />
          ))}
        </section>
      ))}
    </div>
  )
}
