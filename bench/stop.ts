// Sandbox stop with a 300 ms grace: a payload that ignores SIGTERM (and leaves two children
// that do too), killed once the grace is over, against one that exits on SIGTERM, interleaved
// in one process. Build first (npx tsc -p tsconfig.build.json); run as root after set-up:
// node bench/stop.ts [stops]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { InstanceSpec } from '../src/drivers/driver.ts'
import { createLogger, LocalDriver, loadConfig } from './built.ts'
import { line, summarize } from './stats.ts'

const N = Number(process.argv[2] ?? 10)
const GRACE_MS = 300
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-bench-stop-'))
const uidBase = 610_000 + Math.floor(Math.random() * 1000) * 100
const driver = new LocalDriver(
  loadConfig({}, { dataDir, driver: { uidBase, tmpSizeMb: 64 } }),
  createLogger('silent'),
)
const ids: string[] = []
const spec = (name: string): InstanceSpec => {
  ids.push(name)
  return {
    id: name,
    hostUid: uidBase + ids.length,
    resources: { memory_mb: 256, cpus: 1, pids_max: 128, disk_mb: 64 },
    network: 'off',
  }
}
try {
  await driver.init()
  /** ms for stop() of a sandbox running `script`. */
  const stop = async (s: InstanceSpec, script: string) => {
    await driver.launch(s, ['/bin/sh', '-c', script])
    if (!(await driver.inspect(s.id)).running) throw new Error(`${s.id} is not running`)
    const t = performance.now()
    await driver.stop(s.id, GRACE_MS)
    const ms = performance.now() - t
    if ((await driver.inspect(s.id)).running) throw new Error(`${s.id} still runs`)
    return ms
  }
  const polite: number[] = []
  const stubborn: number[] = []
  for (let i = 0; i < N + 2; i++) {
    const a = await stop(spec(`polite${i}`), 'sleep 1000')
    const b = await stop(spec(`stubborn${i}`), "trap '' TERM; sleep 1000 & sleep 1000 & wait")
    if (i >= 2) {
      polite.push(a)
      stubborn.push(b)
    }
  }
  const p = summarize(polite)
  const s = summarize(stubborn)
  console.log(`sandbox stop with a ${GRACE_MS} ms grace, ${N} each, interleaved`)
  console.log(line('baseline: exits on SIGTERM', p))
  console.log(line('ignores SIGTERM, children too', s))
  console.log(
    `ratio ignoring/exiting p50: ${(s.p50 / p.p50).toFixed(2)}x; past the grace p50: ${(s.p50 - GRACE_MS).toFixed(1)} ms`,
  )
} finally {
  for (const id of ids) await driver.destroy(id).catch(() => {})
  fs.rmSync(dataDir, { recursive: true, force: true })
}
