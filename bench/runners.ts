// Runners: the added cost of the hop. The same work, first on a server that runs its instances
// itself (the in-process default, the baseline, in this process), then on a server that runs
// none and a `clawport runner` on this host holding them (jobs through PostgreSQL, the clawlet
// through the runner's pinned HTTPS endpoint). Prints create -> ready and exec round trips,
// p50/p95/p99, and each ratio to the baseline. Instances run without the agent or a network.
//   CLAWPORT_TEST_DATABASE_URL=postgres://... node bench/runners.ts [--creates 6] [--execs 300]
import { TEST_PLANS } from '../test/helpers/plans.ts'
import { freshDatabase } from '../test/helpers/postgres.ts'
import { startRunner } from '../test/helpers/runner.ts'
import { TEST_SECRET_KEY, TestServer, tempDataDir } from '../test/helpers/server.ts'
import { line, type Summary, summarize, time } from './stats.ts'

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}
const CREATES = arg('creates', 6)
const EXECS = arg('execs', 300)
const TOKEN = 'bench-runner-token-0123456789abcdef012345'
const RUNNER_PORT = 17_443 + Math.floor(Math.random() * 1000)

if (!process.env.CLAWPORT_TEST_DATABASE_URL) {
  console.log('bench/runners: set CLAWPORT_TEST_DATABASE_URL (a role that may create databases); skipped')
  process.exit(0)
}

const base = {
  CLAWPORT_SECRET_KEY: TEST_SECRET_KEY,
  CLAWPORT_GATEWAY: 'off',
  CLAWPORT_DESKTOP: 'off',
  CLAWPORT_PLANS: TEST_PLANS,
  CLAWPORT_TMP_SIZE_MB: '64',
  CLAWPORT_RATE_LIMIT_PER_MIN: '100000000',
  CLAWPORT_INSTANCE_RATE_LIMIT_PER_MIN: '0',
  CLAWPORT_RUNNER_TOKEN: TOKEN,
}

interface Figures {
  create: Summary
  exec: Summary
}

/** Creates instances one at a time (create -> ready), then times exec round trips on the first. */
async function measure(s: TestServer, key: string): Promise<{ figures: Figures; ids: string[] }> {
  const creates: number[] = []
  const ids: string[] = []
  for (let i = 0; i < CREATES; i++) {
    const t = performance.now()
    ids.push((await s.readyInstance(key, { network: 'off' }, 120_000)).id)
    creates.push(performance.now() - t)
  }
  const id = ids[0] as string
  const execs = await time(EXECS, async () => {
    const r = await s.exec(id, 'true', {}, key)
    if (r.exit_code !== 0) throw new Error(`exec failed: ${JSON.stringify(r)}`)
  })
  return { figures: { create: summarize(creates), exec: summarize(execs) }, ids }
}

const cleanups: Array<() => Promise<unknown>> = []
try {
  // Baseline: the server's own, in-process runner.
  const dbA = await freshDatabase('bench_runners_local')
  cleanups.push(dbA.drop)
  const local = await new TestServer(tempDataDir('clawport-bench-local-'), {
    ...base,
    CLAWPORT_DATABASE_URL: dbA.url,
  }).start()
  cleanups.unshift(() => local.destroy())
  const localKey = await local.user('bench@example.com', 'team')
  const a = await measure(local, localKey)
  for (const id of a.ids) await local.api('DELETE', `/api/instances/${id}`, { key: localKey })

  // The same through a runner on this host.
  const dbB = await freshDatabase('bench_runners_remote')
  cleanups.push(dbB.drop)
  const cp = await new TestServer(tempDataDir('clawport-bench-cp-'), {
    ...base,
    CLAWPORT_DATABASE_URL: dbB.url,
    CLAWPORT_LOCAL_INSTANCES: 'off',
  }).start()
  cleanups.unshift(() => cp.destroy())
  const runnerDir = tempDataDir('clawport-bench-runner-')
  const { proc: runner } = await startRunner({
    server: cp.url,
    name: 'bench-runner',
    listen: `127.0.0.1:${RUNNER_PORT}`,
    dataDir: runnerDir,
    env: { CLAWPORT_DATABASE_URL: dbB.url, CLAWPORT_RUNNER_TOKEN: TOKEN, CLAWPORT_UID_BASE: '350000' },
  })
  cleanups.unshift(async () => {
    process.kill(-(runner.pid as number), 'SIGTERM')
    await new Promise((r) => setTimeout(r, 500))
    await new TestServer(runnerDir).destroy()
  })
  const cpKey = await cp.user('bench@example.com', 'team')
  const b = await measure(cp, cpKey)
  for (const id of b.ids) await cp.api('DELETE', `/api/instances/${id}`, { key: cpKey })

  console.log(`${CREATES} creates one at a time, ${EXECS} exec round trips (\`true\`), PostgreSQL store\n`)
  console.log(line('create -> ready, in-process', a.figures.create))
  console.log(line('create -> ready, through a runner', b.figures.create))
  console.log(line('exec, in-process', a.figures.exec))
  console.log(line('exec, through a runner', b.figures.exec))
  const ratio = (x: Summary, y: Summary) =>
    `p50 x${(y.p50 / x.p50).toFixed(2)}, p99 x${(y.p99 / x.p99).toFixed(2)}`
  console.log(`\nthrough a runner / in-process: create ${ratio(a.figures.create, b.figures.create)}`)
  console.log(`through a runner / in-process: exec ${ratio(a.figures.exec, b.figures.exec)}`)
  const signed = (x: number, digits: number) => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`
  console.log(
    `added by the hop: create p50 ${signed(b.figures.create.p50 - a.figures.create.p50, 1)} ms, ` +
      `exec p50 ${signed(b.figures.exec.p50 - a.figures.exec.p50, 2)} ms`,
  )
} finally {
  for (const c of cleanups) await c().catch((err) => console.error('cleanup failed', err))
}
