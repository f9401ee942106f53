// Instance create -> ready (no gateway), against a bare bubblewrap start of /bin/true in the
// same process as the baseline. Run as root after set-up: node bench/create.ts [instances]
import { spawnSync } from 'node:child_process'
import { startServer } from '../test/helpers/server.ts'
import { line, summarize } from './stats.ts'

const N = Number(process.argv[2] ?? 10)
const plans = JSON.stringify([
  { name: 'free', instance_limit: 0 },
  { name: 'bench', instance_limit: 1000, memory_mb: 512, cpus: 1, pids_max: 256, disk_mb: 256 },
])
const server = await startServer({
  CLAWPORT_PLANS: plans,
  CLAWPORT_MAX_INSTANCES: '1000',
  CLAWPORT_GATEWAY: 'off',
})
try {
  const bwrap = () => {
    const t = performance.now()
    const r = spawnSync('bwrap', [
      '--unshare-all',
      '--ro-bind',
      '/usr',
      '/usr',
      '--symlink',
      'usr/lib64',
      '/lib64',
      '--symlink',
      'usr/lib',
      '/lib',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--',
      '/usr/bin/true',
    ])
    if (r.status !== 0) throw new Error(`bwrap failed: ${r.stderr}`)
    return performance.now() - t
  }
  const baseline = Array.from({ length: N }, bwrap)
  const created: number[] = []
  const ids: string[] = []
  for (let i = 0; i < N; i++) {
    const t = performance.now()
    const { id } = await server.readyInstance()
    created.push(performance.now() - t)
    ids.push(id)
  }
  const deleted: number[] = []
  for (const id of ids) {
    const t = performance.now()
    await server.api('DELETE', `/api/instances/${id}`)
    deleted.push(performance.now() - t)
  }
  const b = summarize(baseline)
  const c = summarize(created)
  console.log(`instance create -> ready without a gateway, ${N} instances (target: cold <= 15 s)`)
  console.log(line('baseline: bwrap /bin/true', b))
  console.log(line('API: create -> ready (poll 25 ms)', c))
  console.log(line('API: delete (destroy workspace)', summarize(deleted)))
  console.log(`ratio create/baseline p50: ${(c.p50 / b.p50).toFixed(1)}x`)
} finally {
  await server.destroy()
}
