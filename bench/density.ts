// How many instances fit on a host: resident memory (PSS of the instance's sandbox and every
// process in it) of an instance whose gateway is ready, after a turn, and asleep; how long a wake takes
// (to `ready`, and a chat turn sent to a sleeping instance); and, from those figures, how many
// idle and how many sleeping instances fit in a given memory. The model is the scripted test
// model server. Run as root after set-up:
//   node bench/density.ts [instances=2] [wakes per instance=3] [memory GiB, default this host's]

import { readdirSync, readFileSync } from 'node:fs'
import { startModelServer } from '../test/fixtures/model-server.ts'
import { startServer } from '../test/helpers/server.ts'
import { line, summarize } from './stats.ts'

const N = Number(process.argv[2] ?? 2)
const WAKES = Number(process.argv[3] ?? 3)
const hostMemGiB =
  Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]) / 1024 / 1024
const MEM_GIB = Number(process.argv[4] ?? hostMemGiB)
const SETTLE_MS = 10_000
// Sleep is asked for explicitly here, so the plan never puts instances to sleep by itself.
const plans = JSON.stringify([
  { name: 'free', instance_limit: 0 },
  {
    name: 'bench',
    instance_limit: 100,
    memory_mb: 2048,
    cpus: 2,
    pids_max: 1024,
    disk_mb: 1024,
    network: 'off',
    idle_sleep_minutes: 0,
  },
])
const model = await startModelServer()
const server = await startServer({
  CLAWPORT_PLANS: plans,
  CLAWPORT_DEFAULT_PLAN: 'bench',
  CLAWPORT_GATEWAY: 'on',
  CLAWPORT_LLM_BASE_URL: model.baseUrl,
  CLAWPORT_LLM_MODEL: 'bench-model',
  CLAWPORT_LLM_API_KEY: 'sk-bench',
})

/** Proportional memory (PSS) of a sandbox: its first process and every descendant, in MiB. */
function memoryOfTree(root: number): number {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // The parent pid is the 2nd field after the command, which is in parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
    } catch {}
  }
  let kb = 0
  const todo = [root]
  while (todo.length) {
    const pid = todo.pop() as number
    todo.push(...(children.get(pid) ?? []))
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))
      kb += Number(m?.[1] ?? 0)
    } catch {}
  }
  return kb / 1024
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function call(method: string, p: string, body?: unknown) {
  const res = await server.api(method, p, body === undefined ? {} : { body })
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)

try {
  const ready: number[] = []
  const afterTurn: number[] = []
  const sleeping: number[] = []
  const toReady: number[] = []
  const chatFromSleep: number[] = []
  const ids: string[] = []
  for (let i = 0; i < N; i++) {
    const { id } = await server.readyInstance(server.adminKey, {}, 240_000)
    ids.push(id)
    const root = (await call('GET', `/api/instances/${id}/status`)).sandbox.pid as number
    await pause(SETTLE_MS)
    ready.push(memoryOfTree(root))
    await call('POST', `/api/instances/${id}/chat`, { message: 'hello bench' })
    await pause(2_000)
    afterTurn.push(memoryOfTree(root))
    for (let k = 0; k < WAKES; k++) {
      await call('POST', `/api/instances/${id}/sleep`)
      await pause(3_000)
      if (k === 0) sleeping.push(memoryOfTree(root))
      const t = performance.now()
      if (k % 2 === 0) {
        await call('POST', `/api/instances/${id}/wake`)
        await server.waitStatus(id, 'ready', server.adminKey, 240_000)
        toReady.push(performance.now() - t)
      } else {
        await call('POST', `/api/instances/${id}/chat`, { message: `good morning ${k}` })
        chatFromSleep.push(performance.now() - t)
      }
    }
  }
  const mib = (xs: number[]) => `${mean(xs).toFixed(0)} MiB (${xs.map((x) => x.toFixed(0)).join(', ')})`
  console.log(`density: ${N} instances with the OpenClaw gateway, ${WAKES} wakes each`)
  console.log(`${'resident memory, gateway ready'.padEnd(34)} ${mib(ready)}`)
  console.log(`${'resident memory, after a turn'.padEnd(34)} ${mib(afterTurn)}`)
  console.log(`${'resident memory, sleeping'.padEnd(34)} ${mib(sleeping)}`)
  if (toReady.length) console.log(line('wake -> ready', summarize(toReady)))
  if (chatFromSleep.length) console.log(line('chat turn on a sleeping instance', summarize(chatFromSleep)))
  const fitting = (perMiB: number) => Math.floor((MEM_GIB * 1024) / perMiB)
  console.log(
    `in ${MEM_GIB.toFixed(1)} GiB: ${fitting(mean(ready))} idle instances (gateway ready), ` +
      `${fitting(mean(afterTurn))} after a turn, ${fitting(mean(sleeping))} sleeping`,
  )
  for (const id of ids) await call('DELETE', `/api/instances/${id}`)
} finally {
  await server.destroy()
  await model.close()
}
