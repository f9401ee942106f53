// Sandbox start with and without a network (slirp4netns and its nftables policy; for an allowlist
// also its resolver and keeper), interleaved in one process: launch() until the payload may run,
// then until it has run /bin/true. No name is looked up, so nothing leaves the machine.
// Run as root after set-up: node bench/network.ts [starts]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { InstanceSpec } from '../src/drivers/driver.ts'
import { createLogger, LocalDriver, loadConfig } from './built.ts'
import { line, summarize } from './stats.ts'

const N = Number(process.argv[2] ?? 20)
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-bench-net-'))
const uidBase = 600_000 + Math.floor(Math.random() * 1000) * 100
const driver = new LocalDriver(
  loadConfig({}, { dataDir, driver: { uidBase, tmpSizeMb: 64 } }),
  createLogger('silent'),
)
const ids: string[] = []
let next = 1
const spec = (name: string, network: InstanceSpec['network']): InstanceSpec => {
  ids.push(name)
  return {
    id: name,
    hostUid: uidBase + next++,
    resources: { memory_mb: 256, cpus: 1, pids_max: 128, disk_mb: 64 },
    network,
    allowedHosts: network === 'allowlist' ? ['example.com', '*.example.org'] : [],
  }
}
try {
  await driver.init()
  const start = async (spec: InstanceSpec) => {
    const t = performance.now()
    await driver.launch(spec, ['/usr/bin/true'])
    const launched = performance.now() - t
    await driver.waitForExit(spec.id, 10_000)
    return { launched, ran: performance.now() - t }
  }
  const off: Array<{ launched: number; ran: number }> = []
  const pub: Array<{ launched: number; ran: number }> = []
  const allow: Array<{ launched: number; ran: number }> = []
  for (let i = 0; i < N + 2; i++) {
    const a = await start(spec(`off${i}`, 'off'))
    const b = await start(spec(`pub${i}`, 'public'))
    const c = await start(spec(`allow${i}`, 'allowlist'))
    if (i >= 2) {
      off.push(a)
      pub.push(b)
      allow.push(c)
    }
  }
  console.log(`sandbox start, ${N} each, interleaved (target: network adds <= ~50 ms)`)
  console.log(line('baseline: network off, launch', summarize(off.map((x) => x.launched))))
  console.log(line('baseline: network off, ran', summarize(off.map((x) => x.ran))))
  console.log(line('public: launch (policy + slirp)', summarize(pub.map((x) => x.launched))))
  console.log(line('public: ran', summarize(pub.map((x) => x.ran))))
  console.log(line('allowlist: launch (+ resolver)', summarize(allow.map((x) => x.launched))))
  console.log(line('allowlist: ran', summarize(allow.map((x) => x.ran))))
  const p50 = (xs: number[]) => summarize(xs).p50
  const added = p50(pub.map((x) => x.ran)) - p50(off.map((x) => x.ran))
  console.log(
    `ratio public/off p50: ${(p50(pub.map((x) => x.ran)) / p50(off.map((x) => x.ran))).toFixed(2)}x; added p50: ${added.toFixed(1)} ms`,
  )
  const addedAllow = p50(allow.map((x) => x.ran)) - p50(off.map((x) => x.ran))
  console.log(`allowlist over off, added p50: ${addedAllow.toFixed(1)} ms`)
} finally {
  for (const id of ids) await driver.destroy(id).catch(() => {})
  fs.rmSync(dataDir, { recursive: true, force: true })
}
