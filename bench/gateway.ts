// Instances with the real OpenClaw gateway: cold create -> ready, and memory per idle
// instance (before and after one turn). The model is the scripted test model server.
// Run as root after set-up: node bench/gateway.ts [instances]

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { startModelServer } from '../test/fixtures/model-server.ts'
import { startServer } from '../test/helpers/server.ts'
import { line, summarize } from './stats.ts'

const N = Number(process.argv[2] ?? 2)
const IDLE_SETTLE_MS = 10_000
const plans = JSON.stringify([
  { name: 'free', instance_limit: 0 },
  { name: 'bench', instance_limit: 100, memory_mb: 2048, cpus: 2, pids_max: 1024, disk_mb: 1024 },
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

/** Proportional memory (PSS) of every process of a host uid, in MiB. */
function memoryOfUid(uid: number): number {
  let kb = 0
  let pids: string[] = []
  try {
    pids = execFileSync('pgrep', ['-u', String(uid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
  } catch {}
  for (const pid of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))
      kb += Number(m?.[1] ?? 0)
    } catch {}
  }
  return kb / 1024
}

function uidOf(pid: number): number {
  const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1])
}

// One turn from inside the instance straight to its gateway (the chat API is measured elsewhere).
const TURN = `/opt/clawport/bin/node -e "
const c=JSON.parse(require('fs').readFileSync('/home/claw/.openclaw/openclaw.json','utf8'));
const t=performance.now();
fetch('http://127.0.0.1:18789/v1/chat/completions',{method:'POST',headers:{authorization:'Bearer '+c.gateway.auth.token,'content-type':'application/json','x-openclaw-session-key':'bench'},body:JSON.stringify({model:'openclaw',messages:[{role:'user',content:'hello bench'}]})}).then(r=>r.json()).then(j=>console.log(Math.round(performance.now()-t), j.choices[0].message.content))"`

try {
  const created: number[] = []
  const boots: number[] = []
  const idle: number[] = []
  const afterTurn: number[] = []
  const turns: number[] = []
  const ids: string[] = []
  for (let i = 0; i < N; i++) {
    const t = performance.now()
    const { id } = await server.readyInstance()
    created.push(performance.now() - t)
    ids.push(id)
    const status = (await server.api('GET', `/api/instances/${id}/status`)).body
    boots.push(status.gateway.ready_ms)
    const uid = uidOf(status.sandbox.pid)
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS))
    idle.push(memoryOfUid(uid))
    for (let k = 0; k < 2; k++) {
      const out = (await server.exec(id, TURN, { timeout_ms: 60_000 })).stdout.trim()
      turns.push(Number(out.split(' ')[0]))
    }
    await new Promise((r) => setTimeout(r, 2000))
    afterTurn.push(memoryOfUid(uid))
  }
  console.log(`instances with the OpenClaw gateway, ${N} created one after another (target: cold <= 15 s)`)
  console.log(line('API: create -> ready (cold)', summarize(created)))
  console.log(line('gateway boot inside (ready_ms)', summarize(boots)))
  console.log(line('memory idle (PSS, MiB)', summarize(idle), ' MiB'))
  console.log(line('memory after 2 turns (PSS, MiB)', summarize(afterTurn), ' MiB'))
  console.log(line('turn via gateway HTTP (1st, 2nd)', summarize(turns)))
  console.log(`turns: ${turns.map((x) => `${x} ms`).join(', ')}`)
  for (const id of ids) await server.api('DELETE', `/api/instances/${id}`)
} finally {
  await server.destroy()
  await model.close()
}
