// Load: for a fixed time, many concurrent clients mix exec, file writes and reads, chat turns
// and chat event followers across several instances; then many followers on one instance measure
// how fast each event reaches every one of them. Prints throughput, p50/p95/p99 per kind, errors
// and the server's RSS. Instances run without the agent (CLAWPORT_GATEWAY=off): a chat turn then
// stores its user message and ends with an `agent_disabled` error event, which exercises the
// whole turn and event path without a model. Run as root after set-up:
//   node bench/load.ts [--duration 30] [--instances 3] [--clients 24] [--followers 10]
//                      [--fanout 500] [--soak]
// --soak runs longer (default 600 s) and prints the server's RSS every 10 s to spot leaks.
import fs from 'node:fs'
import http from 'node:http'
import { TEST_PLANS } from '../test/helpers/plans.ts'
import { startServer } from '../test/helpers/server.ts'
import { line, summarize } from './stats.ts'

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}
const SOAK = process.argv.includes('--soak')
const DURATION_S = arg('duration', SOAK ? 600 : 30)
const INSTANCES = arg('instances', 3)
const CLIENTS = arg('clients', 24)
const FOLLOWERS = arg('followers', 10)
const FANOUT = arg('fanout', 500)
const FANOUT_S = arg('fanout-duration', Math.min(20, DURATION_S))

type Kind = 'exec' | 'write' | 'read' | 'chat'
const KINDS: Kind[] = ['exec', 'write', 'read', 'chat']

const samples: Record<string, number[]> = {}
const errors: Record<string, number> = {}
const firstErrors: string[] = []
function sample(kind: string, ms: number): void {
  samples[kind] ??= []
  samples[kind].push(ms)
}
function fail(kind: string, why: string): void {
  errors[kind] = (errors[kind] ?? 0) + 1
  if (firstErrors.length < 10) firstErrors.push(`${kind}: ${why}`)
}

const server = await startServer({
  CLAWPORT_GATEWAY: 'off',
  CLAWPORT_DESKTOP: 'off',
  CLAWPORT_PLANS: TEST_PLANS,
  CLAWPORT_TMP_SIZE_MB: '64',
  CLAWPORT_RATE_LIMIT_PER_MIN: '100000000',
  CLAWPORT_INSTANCE_RATE_LIMIT_PER_MIN: '0',
  // Never called (no agent runs), but a configured model makes turns end with agent_disabled.
  CLAWPORT_LLM_BASE_URL: 'http://127.0.0.1:9/v1',
  CLAWPORT_LLM_API_KEY: 'unused',
  CLAWPORT_LLM_MODEL: 'unused',
})

function rssMb(): number {
  const status = fs.readFileSync(`/proc/${server.pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}

/**
 * Follows an instance's chat events as SSE; calls onEvent with each event's cursor and arrival
 * time. Plain node:http, lighter than fetch's web streams: hundreds of these share this process.
 */
function follow(
  instanceId: string,
  key: string,
  signal: AbortSignal,
  onEvent: (cursor: number, atMs: number) => void,
  onOpen: () => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${server.url}/api/instances/${instanceId}/chat/events?after=0`,
      { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' }, agent: false, signal },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`follow: ${res.statusCode}`))
        onOpen()
        res.setEncoding('utf8')
        let buf = ''
        res.on('data', (chunk: string) => {
          const now = Date.now()
          buf += chunk
          let end = buf.indexOf('\n\n')
          while (end >= 0) {
            const id = /^id: (\d+)$/m.exec(buf.slice(0, end))?.[1]
            buf = buf.slice(end + 2)
            end = buf.indexOf('\n\n')
            if (id) onEvent(Number(id), now)
          }
        })
        res.on('close', () => resolve())
        res.on('error', (err) => (signal.aborted ? resolve() : reject(err)))
      },
    )
    req.on('error', (err) => (signal.aborted ? resolve() : reject(err)))
  })
}

/** When each of an instance's events was stored (ms since the epoch), by cursor. */
async function storedAt(instanceId: string, key: string): Promise<Map<number, number>> {
  const out = new Map<number, number>()
  for (let after = 0; ; ) {
    const page = (
      await server.api('GET', `/api/instances/${instanceId}/chat/events?after=${after}&limit=1000`, { key })
    ).body as Array<{ cursor: number; created_at: string }>
    for (const e of page) out.set(e.cursor, Date.parse(e.created_at))
    if (page.length < 1000) return out
    after = page.at(-1)?.cursor as number
  }
}

async function timed(kind: Kind, fn: () => Promise<string | undefined>): Promise<void> {
  const t = performance.now()
  try {
    const problem = await fn()
    if (problem) fail(kind, problem)
    else sample(kind, performance.now() - t)
  } catch (err) {
    fail(kind, (err as Error).message)
  }
}

/** One chat turn through POST /chat/stream, read to its end. */
async function chatTurn(instanceId: string, key: string, sessionId: string): Promise<string | undefined> {
  const res = await fetch(`${server.url}/api/instances/${instanceId}/chat/stream`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ message: 'load', session_id: sessionId }),
  })
  const text = await res.text()
  if (res.status !== 200) return `chat ${res.status} ${text.slice(0, 200)}`
  // Without the agent every turn ends with this error; anything else is a failure.
  if (!/event: (done|error)\n/.test(text) || (/event: error/.test(text) && !/agent_disabled/.test(text)))
    return `chat ended badly: ${text.slice(-200)}`
  return undefined
}

try {
  const key = await server.user('load@example.com', 'team')
  const t0 = performance.now()
  const ids: string[] = []
  for (let i = 0; i < INSTANCES + 1; i++) ids.push((await server.readyInstance(key)).id)
  const fanoutId = ids.pop() as string
  console.log(
    `${INSTANCES + 1} instances ready in ${((performance.now() - t0) / 1000).toFixed(1)} s; server RSS ${rssMb().toFixed(0)} MB`,
  )

  // Phase 1: the mix.
  const stop = new AbortController()
  const rss: number[] = [rssMb()]
  const rssTimer = setInterval(
    () => {
      rss.push(rssMb())
      if (SOAK)
        console.log(
          `  t=${String(rss.length * 10 - 10).padStart(4)} s  RSS ${rss.at(-1)?.toFixed(0)} MB  ops ${Object.values(samples).reduce((a, s) => a + s.length, 0)}`,
        )
    },
    SOAK ? 10_000 : 1000,
  )
  const followers: Promise<void>[] = []
  const arrivals = new Map<string, Array<[number, number]>>(ids.map((id) => [id, []]))
  let opened = 0
  for (const id of ids)
    for (let f = 0; f < FOLLOWERS; f++)
      followers.push(
        follow(
          id,
          key,
          stop.signal,
          (cursor, at) => arrivals.get(id)?.push([cursor, at]),
          () => opened++,
        ).catch((err: Error) => fail('follow', err.message)),
      )
  while (opened < ids.length * FOLLOWERS) await new Promise((r) => setTimeout(r, 20))

  const deadline = Date.now() + DURATION_S * 1000
  const started = performance.now()
  const clients = Array.from({ length: CLIENTS }, async (_, c) => {
    const id = ids[c % ids.length] as string
    const base = `/api/instances/${id}`
    const session = await server.api('POST', `${base}/chat/sessions`, { key, body: { title: `c${c}` } })
    const file = `load/c${c}.txt`
    await server.api('POST', `${base}/files/write`, { key, body: { path: file, content: `client ${c} ` } })
    let n = 0
    while (Date.now() < deadline) {
      const kind = KINDS[(c + n++) % KINDS.length] as Kind
      if (kind === 'exec')
        await timed(kind, async () => {
          const r = await server.api('POST', `${base}/terminal/exec`, { key, body: { command: 'echo ok' } })
          return r.status === 200 && r.body.stdout === 'ok\n' ? undefined : `exec ${r.status}`
        })
      else if (kind === 'write')
        await timed(kind, async () => {
          const content = `client ${c} write ${n} `.repeat(64)
          const r = await server.api('POST', `${base}/files/write`, { key, body: { path: file, content } })
          return r.status === 200 ? undefined : `write ${r.status} ${JSON.stringify(r.body)}`
        })
      else if (kind === 'read')
        await timed(kind, async () => {
          const r = await server.api('GET', `${base}/files/read?path=${file}`, { key })
          return r.status === 200 && r.body.content.startsWith(`client ${c} `)
            ? undefined
            : `read ${r.status}`
        })
      else await timed(kind, () => chatTurn(id, key, session.body.id))
    }
  })
  await Promise.all(clients)
  const elapsedS = (performance.now() - started) / 1000
  stop.abort()
  await Promise.all(followers)
  clearInterval(rssTimer)
  for (const id of ids) {
    const stored = await storedAt(id, key)
    const got = arrivals.get(id) ?? []
    for (const [cursor, at] of got) sample('follow (delivery)', at - (stored.get(cursor) ?? at))
    if (got.length !== stored.size * FOLLOWERS)
      fail('follow', `${got.length} deliveries on ${id}, expected ${stored.size * FOLLOWERS}`)
  }

  const total = KINDS.reduce((a, k) => a + (samples[k]?.length ?? 0), 0)
  console.log(
    `\nmixed load: ${CLIENTS} clients and ${ids.length * FOLLOWERS} event followers on ${ids.length} instances for ${elapsedS.toFixed(1)} s`,
  )
  console.log(`throughput: ${(total / elapsedS).toFixed(0)} requests/s`)
  for (const k of [...KINDS, 'follow (delivery)']) {
    const s = samples[k] ?? []
    const rate = k === 'follow (delivery)' ? '' : `  ${(s.length / elapsedS).toFixed(1)}/s`
    console.log(`${line(k, summarize(s))}${rate}`)
  }

  // Phase 2: many followers of one instance, each must get every event, fast.
  const fanStop = new AbortController()
  const perFollower = new Array<number>(FANOUT).fill(0)
  const fanArrivals: Array<[number, number]> = []
  let fanOpened = 0
  const fan = Array.from({ length: FANOUT }, (_, i) =>
    follow(
      fanoutId,
      key,
      fanStop.signal,
      (cursor, at) => {
        perFollower[i] = (perFollower[i] ?? 0) + 1
        fanArrivals.push([cursor, at])
      },
      () => fanOpened++,
    ).catch((err: Error) => fail('fanout follow', err.message)),
  )
  while (fanOpened < FANOUT) await new Promise((r) => setTimeout(r, 20))
  const fanSession = await server.api('POST', `/api/instances/${fanoutId}/chat/sessions`, { key, body: {} })
  const fanDeadline = Date.now() + FANOUT_S * 1000
  let turns = 0
  while (Date.now() < fanDeadline) {
    await timed('chat', () => chatTurn(fanoutId, key, fanSession.body.id))
    turns++
    await new Promise((r) => setTimeout(r, 100))
  }
  const stored = await storedAt(fanoutId, key)
  const events = stored.size
  // Let the last events arrive, then stop.
  const settle = Date.now() + 5000
  while (Date.now() < settle && perFollower.some((n) => n < events))
    await new Promise((r) => setTimeout(r, 50))
  fanStop.abort()
  await Promise.all(fan)
  const short = perFollower.filter((n) => n !== events).length
  if (short) fail('fanout follow', `${short} followers did not get exactly ${events} events`)
  const delays = fanArrivals.map(([cursor, at]) => at - (stored.get(cursor) ?? at))
  const fanSummary = summarize(delays)
  console.log(
    `\nfan-out: ${FANOUT} followers of one instance, ${turns} turns (${events} events) in ${FANOUT_S} s`,
  )
  console.log(`${line('delivery to every follower', fanSummary)}  (target p99 <= 100 ms)`)
  console.log(`deliveries: ${delays.length} of ${events * FANOUT} expected`)

  const finalRss = rssMb()
  console.log(
    `\nserver RSS: start ${rss[0]?.toFixed(0)} MB, max ${Math.max(...rss, finalRss).toFixed(0)} MB, end ${finalRss.toFixed(0)} MB`,
  )
  if (SOAK && rss.length > 4) {
    const q = Math.floor(rss.length / 4)
    const early = rss.slice(q, 2 * q).reduce((a, b) => a + b, 0) / q
    const late = rss.slice(-q).reduce((a, b) => a + b, 0) / q
    console.log(`soak: mean RSS second quarter ${early.toFixed(0)} MB, last quarter ${late.toFixed(0)} MB`)
  }
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0)
  console.log(`errors: ${errorCount} ${errorCount ? JSON.stringify(errors) : '(target 0)'}`)
  for (const e of firstErrors) console.log(`  ${e}`)
  if (errorCount || fanSummary.p99 > 100) process.exitCode = 1
} finally {
  await server.destroy()
}
