// How soon Clawport ends what it has to end, in one process, each against a baseline there:
// - a request body that trickles: ms to the 408 and the close, against the request timeout,
//   and an ordinary POST on the same port;
// - an instance that sends a head and then trickles, and one that never answers an exec: ms to
//   the 503, against the client's caps, and an ordinary answer from the same fake clawlet;
// - a waiting read of chat events woken by a new event, against a read that answers at once;
// - an open event stream whose key is revoked: ms from the DELETE to the stream's end, against
//   the DELETE's own answer.
// Build first (npx tsc -p tsconfig.build.json), then: node bench/cuts.ts [rounds]
import fs from 'node:fs'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { answer, startFakeClawlet, trickle } from '../test/helpers/fake-clawlet.ts'
import { TEST_ENV } from '../test/helpers/plans.ts'
import { insertInstanceRow } from '../test/helpers/rows.ts'
import { tempDataDir } from '../test/helpers/server.ts'
import { createLogger, dist, loadConfig } from './built.ts'
import { line, type Summary, summarize, time } from './stats.ts'

const { createServices } = (await import(dist('core/services'))) as typeof import('../src/core/services.ts')
const { asUser } = (await import(dist('core/scope'))) as typeof import('../src/core/scope.ts')
const { buildApp } = (await import(dist('http/app'))) as typeof import('../src/http/app.ts')
const { ClawletClient } = (await import(
  dist('door/clawlet/client')
)) as typeof import('../src/door/clawlet/client.ts')

const N = Number(process.argv[2] ?? 20)
const REQUEST_TIMEOUT_MS = 1000
/** The clawlet client's caps, short so that a cut comes in about a second. */
const LIMITS = { callMs: 1000, idleMs: 800, execMarginMs: 500 }
const EXEC_TIMEOUT_MS = 500

const ratio = (a: Summary, b: Summary) => `x${(a.p50 / b.p50).toFixed(2)}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Sends `head`, then a byte of `rest` every 200 ms; answers ms from the first byte to the close. */
function trickled(port: number, head: string, rest: string): Promise<{ ms: number; text: string }> {
  return new Promise((resolve) => {
    const t = performance.now()
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    let i = 0
    const pump = setInterval(() => {
      if (i < rest.length && socket.writable) socket.write(rest[i++] as string)
    }, 200)
    socket.on('data', (d) => {
      text += d.toString()
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearInterval(pump)
      resolve({ ms: performance.now() - t, text })
    })
    socket.write(head)
  })
}

const dataDir = tempDataDir('clawport-bench-cuts-')
const log = createLogger('silent')
const config = loadConfig({
  ...TEST_ENV,
  CLAWPORT_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
  CLAWPORT_RATE_LIMIT_PER_MIN: '1000000',
  CLAWPORT_DATA_DIR: dataDir,
  CLAWPORT_LOG_LEVEL: 'silent',
})
const services = await createServices(config, log)
const app = await buildApp(services, log)
const fake = await startFakeClawlet()
try {
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const user = await services.accounts.createUser({ email: 'cuts@example.com', plan: 'pro' })
  const { key } = await services.keys.create(user.id, 'bench')
  const instanceId = await insertInstanceRow(services.store, user.id)
  const session = (await services.chat.createSession(asUser(user.id), instanceId, { title: 'bench' })).id
  const auth = { authorization: `Bearer ${key}` }

  // A trickling body, against a whole one sent at once.
  const body = JSON.stringify({ name: 'n'.repeat(80) })
  const head = (length: number) =>
    `POST /api/instances HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${key}\r\nContent-Length: ${length}\r\n\r\n`
  const whole = await time(N, async () => {
    const res = await fetch(`${url}/api/instances/${instanceId}`, { headers: auth })
    await res.arrayBuffer()
  })
  const cut: number[] = []
  for (let i = 0; i < Math.min(N, 5); i++) {
    const r = await trickled(port, head(body.length), body)
    if (!/^HTTP\/1\.1 408 /.test(r.text)) throw new Error(`trickle not cut with 408: ${r.text.slice(0, 200)}`)
    cut.push(r.ms)
  }

  // A hostile instance: a head then a trickle, an exec never answered; against a plain answer.
  const client = new ClawletClient({ transport: { unix: fake.socketPath }, label: 'bench', limits: LIMITS })
  fake.handle = (_req, res) => answer(res, 200, { ok: true, pid: 1, uptime_ms: 1, version: 'bench' })
  const plain = await time(N, () => client.health())
  const failure = async (call: () => Promise<unknown>) => {
    const t = performance.now()
    const err = await call().then(
      () => undefined,
      (e: unknown) => e,
    )
    if (!err) throw new Error('the call was not cut')
    return performance.now() - t
  }
  fake.handle = (_req, res) => trickle(res)
  const stalled: number[] = []
  for (let i = 0; i < Math.min(N, 5); i++) stalled.push(await failure(() => client.health()))
  fake.handle = () => {}
  const unanswered: number[] = []
  for (let i = 0; i < Math.min(N, 5); i++)
    unanswered.push(await failure(() => client.exec({ command: 'true', timeout_ms: EXEC_TIMEOUT_MS })))
  client.close()

  // A waiting read woken by an event 100 ms in, against one that answers at once.
  const events = `/api/instances/${instanceId}/chat/events`
  const read = async (q: string) => {
    const res = await fetch(`${url}${events}?${q}`, { headers: auth })
    return (await res.json()) as unknown[]
  }
  await services.chat.events.append(instanceId, session, 'delta', { text: 'first' })
  const atOnce = await time(N, () => read('after=0'))
  const woken: number[] = []
  for (let i = 0; i < N; i++) {
    const last = await services.store.chat.lastCursor(instanceId)
    const waiting = read(`after=${last}&wait_ms=10000`)
    await sleep(100)
    const t = performance.now()
    await services.chat.events.append(instanceId, session, 'delta', { text: `t${i}` })
    await waiting
    woken.push(performance.now() - t)
  }

  // An event stream whose key is revoked, against the revoking DELETE's own answer.
  const deleted: number[] = []
  const ended: number[] = []
  for (let i = 0; i < N; i++) {
    const k = await services.keys.create(user.id, `revocable ${i}`)
    const res = await fetch(`${url}${events}`, {
      headers: { authorization: `Bearer ${k.key}`, accept: 'text/event-stream' },
    })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    await reader.read()
    const t = performance.now()
    const del = await fetch(`${url}/api/keys/${k.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${k.key}` },
    })
    if (del.status !== 204) throw new Error(`revoke failed: ${del.status}`)
    deleted.push(performance.now() - t)
    while (!(await reader.read()).done) {}
    ended.push(performance.now() - t)
  }

  const s = {
    whole: summarize(whole),
    cut: summarize(cut),
    plain: summarize(plain),
    stalled: summarize(stalled),
    unanswered: summarize(unanswered),
    atOnce: summarize(atOnce),
    woken: summarize(woken),
    deleted: summarize(deleted),
    ended: summarize(ended),
  }
  console.log(
    `cuts and wake-ups, in process (request timeout ${REQUEST_TIMEOUT_MS} ms, clawlet caps ${JSON.stringify(LIMITS)})`,
  )
  console.log(line('baseline: GET an instance', s.whole))
  console.log(line('trickling body to its 408 close', s.cut))
  console.log(line('baseline: clawlet health answered', s.plain))
  console.log(line('head then trickle, cut (503)', s.stalled))
  console.log(line('exec never answered (503)', s.unanswered))
  console.log(line('baseline: events read at once', s.atOnce))
  console.log(line('waiting events read, woken', s.woken))
  console.log(line('baseline: DELETE of a key', s.deleted))
  console.log(line('its open stream, to its end', s.ended))
  console.log(
    `ratios p50: 408 close/request timeout x${(s.cut.p50 / REQUEST_TIMEOUT_MS).toFixed(2)}; trickle cut/call cap x${(s.stalled.p50 / LIMITS.callMs).toFixed(2)}; unanswered exec/(timeout + margin) x${(s.unanswered.p50 / (EXEC_TIMEOUT_MS + LIMITS.execMarginMs)).toFixed(2)}; woken/at once ${ratio(s.woken, s.atOnce)}; stream end/DELETE ${ratio(s.ended, s.deleted)}`,
  )
} finally {
  await app.close()
  await services.close()
  await fake.stop()
  fs.rmSync(dataDir, { recursive: true, force: true })
}
