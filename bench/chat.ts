// Chat stream latency added by Clawport over calling the instance's gateway directly (through
// its clawlet socket, as the control plane does), with the scripted model answering at once.
// Then how soon the chat ends a wait: a waiting JSON read woken by a new event (against a read
// that answers at once), an abort (against a no-op abort) and a hung model (against the
// first-byte timeout).
// Run as root after set-up and a build: node bench/chat.ts [turns]
import { request } from 'node:http'
import path from 'node:path'
import { startModelServer } from '../test/fixtures/model-server.ts'
import { GATEWAY_PLANS } from '../test/helpers/plans.ts'
import { startServer } from '../test/helpers/server.ts'
import { line, summarize } from './stats.ts'

const N = Number(process.argv[2] ?? 40)
const WARMUP = 3
const FIRST_BYTE_TIMEOUT_MS = 5000

/** One turn straight to the clawlet's gateway route: ms to the first byte and the first delta. */
function direct(
  socketPath: string,
  message: string,
): Promise<{ firstByte: number; firstDelta: number; total: number }> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const body = Buffer.from(JSON.stringify({ session_key: 'bench-direct', message }))
    const req = request(
      {
        socketPath,
        method: 'POST',
        path: '/v1/gateway/turn',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        let firstByte = 0
        let firstDelta = 0
        let tail = ''
        res.on('data', (c: Buffer) => {
          firstByte ||= performance.now() - t0
          tail += c.toString()
          if (!firstDelta && tail.includes('"type":"delta"')) firstDelta = performance.now() - t0
        })
        res.on('end', () => {
          if (!tail.includes('"type":"done"')) reject(new Error(`direct turn failed: ${tail}`))
          else resolve({ firstByte, firstDelta, total: performance.now() - t0 })
        })
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** One turn through POST /chat/stream: ms to the first byte (the `session` event) and the first delta. */
async function viaApi(url: string, key: string, sessionId: string, message: string) {
  const t0 = performance.now()
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ message, session_id: sessionId }),
  })
  if (res.status !== 200 || !res.body) throw new Error(`stream failed: ${res.status} ${await res.text()}`)
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  let firstByte = 0
  let firstDelta = 0
  let text = ''
  for (;;) {
    const r = await reader.read()
    if (r.done) break
    firstByte ||= performance.now() - t0
    text += decoder.decode(r.value, { stream: true })
    if (!firstDelta && text.includes('event: delta\n')) firstDelta = performance.now() - t0
  }
  if (!text.includes('event: done\n')) throw new Error(`stream did not finish: ${text}`)
  return { firstByte, firstDelta, total: performance.now() - t0 }
}

const model = await startModelServer()
const server = await startServer({
  CLAWPORT_RATE_LIMIT_PER_MIN: '1000000',
  CLAWPORT_PLANS: GATEWAY_PLANS,
  CLAWPORT_DEFAULT_PLAN: 'agent',
  CLAWPORT_TMP_SIZE_MB: '128',
  CLAWPORT_GATEWAY: 'on',
  CLAWPORT_LLM_BASE_URL: model.baseUrl,
  CLAWPORT_LLM_MODEL: 'test-model',
  CLAWPORT_LLM_FIRST_BYTE_TIMEOUT_MS: String(FIRST_BYTE_TIMEOUT_MS),
})
try {
  const res = await server.api('POST', '/api/instances', { body: {} })
  if (res.status !== 201) throw new Error(`create failed: ${JSON.stringify(res.body)}`)
  const id = res.body.id as string
  await server.waitStatus(id, 'ready', server.adminKey, 240_000)
  const socketPath = path.join(server.dataDir, 'instances', id, 'state', 'clawlet.sock')
  const session = (
    await server.api('POST', `/api/instances/${id}/chat/sessions`, { body: { title: 'bench' } })
  ).body
  const url = `${server.url}/api/instances/${id}/chat/stream`
  const d: Array<Awaited<ReturnType<typeof direct>>> = []
  const a: Array<Awaited<ReturnType<typeof viaApi>>> = []
  // Interleaved, so that both paths see the same gateway and model state.
  for (let i = 0; i < N + WARMUP; i++) {
    const rd = await direct(socketPath, `bench ${i}`)
    const ra = await viaApi(url, server.adminKey, session.id, `bench ${i}`)
    if (i >= WARMUP) {
      d.push(rd)
      a.push(ra)
    }
  }
  const pick = (xs: typeof d, k: keyof (typeof d)[number]) => summarize(xs.map((x) => x[k]))
  const dDelta = pick(d, 'firstDelta')
  const aDelta = pick(a, 'firstDelta')
  const added = summarize(a.map((x, i) => x.firstDelta - (d[i]?.firstDelta ?? 0)))
  console.log(`chat stream, ${N} turns each path, interleaved (target: <= 5 ms added)`)
  console.log(line('direct: clawlet first byte', pick(d, 'firstByte')))
  console.log(line('direct: clawlet first delta', dDelta))
  console.log(line('direct: whole turn', pick(d, 'total')))
  console.log(line('API: first byte (session event)', pick(a, 'firstByte')))
  console.log(line('API: first delta', aDelta))
  console.log(line('API: whole turn', pick(a, 'total')))
  console.log(line('added to first delta, per pair', added))
  const diffs = a.map((x, i) => x.firstDelta - (d[i]?.firstDelta ?? 0))
  const mean = diffs.reduce((x, y) => x + y, 0) / diffs.length
  const se = Math.sqrt(diffs.reduce((x, y) => x + (y - mean) ** 2, 0) / (diffs.length - 1) / diffs.length)
  console.log(`added to first delta, p50 vs p50: ${(aDelta.p50 - dDelta.p50).toFixed(2)} ms`)
  console.log(`added to first delta, mean of pairs: ${mean.toFixed(2)} ms +- ${(2 * se).toFixed(2)} ms (95%)`)
  console.log(
    '(the gateway itself varies by hundreds of ms from turn to turn; compare medians over many turns)',
  )

  const chat = (p: string) => `/api/instances/${id}/chat${p}`
  const lastCursor = async () => (await server.api('GET', chat('/cursor'))).body.cursor as number
  const rounds = Math.max(5, Math.floor(N / 4))
  // A waiting read, woken by a turn posted 200 ms in: ms from the post to the answer.
  const woken: number[] = []
  const atOnce: number[] = []
  for (let i = 0; i < rounds; i++) {
    const after = await lastCursor()
    let t = performance.now()
    await server.api('GET', chat(`/events?after=${after - 1}&wait_ms=20000`))
    atOnce.push(performance.now() - t)
    const waiting = server.api('GET', chat(`/events?after=${after}&wait_ms=20000`))
    await new Promise((r) => setTimeout(r, 200))
    t = performance.now()
    const turn = server.api('POST', chat(''), { body: { message: `wake ${i}`, session_id: session.id } })
    await waiting
    woken.push(performance.now() - t)
    await turn
  }
  // An abort of a stalled turn: ms from the abort to the end of the stream.
  const aborted: number[] = []
  const noop: number[] = []
  for (let i = 0; i < rounds; i++) {
    let t = performance.now()
    await server.api('POST', chat('/abort'), { body: { session_id: session.id } })
    noop.push(performance.now() - t)
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'stall', session_id: session.id }),
    })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let text = ''
    while (!text.includes('event: delta\n')) {
      const r = await reader.read()
      if (r.done) throw new Error(`stalled turn ended early: ${text}`)
      text += decoder.decode(r.value, { stream: true })
    }
    t = performance.now()
    await server.api('POST', chat('/abort'), { body: { session_id: session.id } })
    for (;;) {
      const r = await reader.read()
      if (r.done) break
      text += decoder.decode(r.value, { stream: true })
    }
    aborted.push(performance.now() - t)
    if (!text.includes('"aborted"')) throw new Error(`turn not aborted: ${text}`)
  }
  // A model that never answers: ms to the 504.
  const hung: number[] = []
  for (let i = 0; i < 2; i++) {
    const t = performance.now()
    const res = await server.api('POST', chat(''), { body: { message: 'slow', session_id: session.id } })
    hung.push(performance.now() - t)
    if (res.status !== 504) throw new Error(`hung model: ${res.status} ${JSON.stringify(res.body)}`)
  }
  const w = summarize(woken)
  const o = summarize(atOnce)
  const ab = summarize(aborted)
  const nb = summarize(noop)
  const h = summarize(hung)
  console.log(`\nending waits, ${rounds} rounds each`)
  console.log(line('baseline: read that answers at once', o))
  console.log(line('waiting read woken by a turn', w))
  console.log(line('baseline: abort with no turn', nb))
  console.log(line('abort of a stalled turn to its end', ab))
  console.log(line('hung model to 504', h))
  console.log(
    `ratios p50: woken/at once x${(w.p50 / o.p50).toFixed(2)}; abort/no-op abort x${(ab.p50 / nb.p50).toFixed(2)}; hung/first-byte timeout x${(h.p50 / FIRST_BYTE_TIMEOUT_MS).toFixed(2)} (OpenClaw alone waits 70-90 s)`,
  )
} finally {
  await server.destroy()
  await model.close()
}
