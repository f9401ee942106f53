import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ENV } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'
import { parseSse } from './helpers/sse.js'
import { waitFor } from './helpers/wait.js'

/**
 * Pipelines with exec and file-copy steps on real sandboxes (no gateway: no agent is needed):
 * outputs passed from step to step, manual, webhook and schedule triggers, progress as SSE,
 * cancel, and a run resumed where it stood after a kill -9.
 */
describe('pipelines', () => {
  let s: TestServer
  let key: string
  let a: string
  let b: string

  const steps = () => [
    { name: 'one', type: 'exec', instance_id: a, command: 'echo "alpha-{{input.word}}" | tee out.txt' },
    {
      name: 'two',
      type: 'copy',
      from: { instance_id: a, path: 'out.txt' },
      to: { instance_id: b, path: 'in.txt' },
    },
    {
      parallel: [
        {
          name: 'three',
          type: 'exec',
          instance_id: b,
          command: 'echo "{{steps.one.output}}+$(cat {{steps.two.output}})" | tr a-z A-Z',
        },
        { name: 'side', type: 'exec', instance_id: a, command: 'echo run {{run.id}}' },
      ],
    },
  ]

  /** The run once it ended. */
  async function waitRun(pid: string, rid: string, timeoutMs = 60_000): Promise<any> {
    let last: any
    return waitFor(
      () => `run ${rid} to end, now ${JSON.stringify(last)}`,
      async () => {
        last = (await s.api('GET', `/api/pipelines/${pid}/runs/${rid}`, { key })).body
        return ['succeeded', 'failed', 'canceled'].includes(last.status) && last
      },
      { timeoutMs },
    )
  }

  /** The run once its step `i` is running. */
  async function waitStep(pid: string, rid: string, i: number, intervalMs: number): Promise<any> {
    let last: any
    return waitFor(
      () => `step ${i} of run ${rid} to run, now ${JSON.stringify(last?.steps)}`,
      async () => {
        last = (await s.api('GET', `/api/pipelines/${pid}/runs/${rid}`, { key })).body
        return last.steps[i].status === 'running' && last
      },
      { intervalMs },
    )
  }

  beforeAll(async () => {
    buildOnce()
    // Schedules of seconds, so the schedule test does not wait minutes.
    s = await startServer({ ...TEST_ENV, CLAWPORT_SCHEDULE_MIN_INTERVAL_S: '1' })
    key = await s.user('pipes@example.com', 'pro')
    ;[a, b] = (await Promise.all([s.readyInstance(key), s.readyInstance(key)])).map((i) => i.id) as [
      string,
      string,
    ]
  }, 120_000)
  afterAll(() => s?.destroy())

  it('passes outputs from step to step, by hand and by webhook, and streams its progress', async () => {
    const created = await s.api('POST', '/api/pipelines', {
      key,
      body: { name: 'chain', steps: steps(), webhook: true },
    })
    expect(created.status).toBe(201)
    expect(created.body.webhook_url).toMatch(/\/api\/pipelines\/[0-9a-f-]+\/webhook\/\S+$/)
    const pid = created.body.id
    const run = await s.api('POST', `/api/pipelines/${pid}/runs`, { key, body: { word: 'manual' } })
    expect(run.status).toBe(202)
    const events = await fetch(`${s.url}/api/pipelines/${pid}/runs/${run.body.id}/events`, {
      headers: { authorization: `Bearer ${key}` },
    })
    const stream = parseSse(await events.text())
    expect(stream.at(-1)).toMatchObject({ event: 'run', data: { status: 'succeeded' } })
    const done = await waitRun(pid, run.body.id)
    const out = Object.fromEntries(done.steps.map((x: any) => [x.name, x]))
    expect(out.one).toMatchObject({ status: 'succeeded', output: 'alpha-manual', attempts: 1 })
    expect(out.two.output).toBe('/workspace/in.txt')
    expect(out.three.output).toBe('ALPHA-MANUAL+ALPHA-MANUAL')
    expect(out.side.output).toBe(`run ${run.body.id}`)
    expect(out.three.duration_ms).toBeGreaterThanOrEqual(0)

    const path = new URL(created.body.webhook_url, s.url).pathname
    const hook = await s.api('POST', path, { key: null, body: { word: 'hook' } })
    expect(hook.status).toBe(202)
    expect(hook.body.trigger).toBe('webhook')
    const hooked = await waitRun(pid, hook.body.id)
    expect(hooked.steps.find((x: any) => x.name === 'three').output).toBe('ALPHA-HOOK+ALPHA-HOOK')
    expect((await s.api('POST', `${path}x`, { key: null, body: {} })).status).toBe(404)
  }, 120_000)

  it('runs on a cron schedule', async () => {
    const created = await s.api('POST', '/api/pipelines', {
      key,
      body: { name: 'every-2s', steps: steps(), schedule: '*/2 * * * * *' },
    })
    expect(created.status).toBe(201)
    // The next even second, in UTC.
    expect(created.body.next_run_at).toMatch(/T\d\d:\d\d:\d[02468]\.000Z$/)
    const pid = created.body.id
    const ok = await waitFor(
      'a scheduled run to succeed',
      async () => {
        const runs = (await s.api('GET', `/api/pipelines/${pid}/runs`, { key })).body as any[]
        return runs.find((r) => r.status === 'succeeded')
      },
      { intervalMs: 250 },
    )
    expect(ok.trigger).toBe('schedule')
    expect(ok.steps.find((x: any) => x.name === 'one').output).toBe('alpha-')
    expect((await s.api('DELETE', `/api/pipelines/${pid}`, { key })).status).toBe(204)
    expect(
      (await s.api('POST', '/api/pipelines', { key, body: { name: 'x', steps: steps(), schedule: 'nope' } }))
        .status,
    ).toBe(422)
  }, 60_000)

  it('retries a failing step with backoff, and cancels', async () => {
    const created = await s.api('POST', '/api/pipelines', {
      key,
      body: {
        name: 'flaky',
        steps: [
          {
            name: 'flaky',
            type: 'exec',
            instance_id: a,
            command: 'echo x >> tries; [ $(wc -l < tries) -ge 3 ]',
            retries: 3,
            backoff_ms: 100,
          },
          { name: 'long', type: 'exec', instance_id: a, command: 'sleep 30' },
        ],
      },
    })
    const pid = created.body.id
    const run = await s.api('POST', `/api/pipelines/${pid}/runs`, { key })
    const cur = await waitStep(pid, run.body.id, 1, 100)
    expect(cur.steps[0]).toMatchObject({ status: 'succeeded', attempts: 3 })
    const canceled = await s.api('POST', `/api/pipelines/${pid}/runs/${run.body.id}/cancel`, { key })
    expect(canceled.body).toMatchObject({ status: 'canceled' })
    expect(canceled.body.steps[1].status).toBe('canceled')
  }, 60_000)

  it('resumes a running pipeline where it stood after a kill -9', async () => {
    const created = await s.api('POST', '/api/pipelines', {
      key,
      body: {
        name: 'resume',
        steps: [
          { name: 'first', type: 'exec', instance_id: a, command: 'echo once >> resume-count; echo first' },
          { name: 'slow', type: 'exec', instance_id: b, command: 'sleep 4; echo slow' },
          {
            name: 'last',
            type: 'exec',
            instance_id: a,
            command: 'wc -l < resume-count',
            retries: 5,
            backoff_ms: 500,
          },
        ],
      },
    })
    const pid = created.body.id
    const run = await s.api('POST', `/api/pipelines/${pid}/runs`, { key })
    await waitStep(pid, run.body.id, 1, 50)
    await s.kill9()
    await s.start()
    const done = await waitRun(pid, run.body.id)
    expect(done.status).toBe('succeeded')
    expect(done.steps.map((x: any) => x.output)).toEqual(['first', 'slow', '1'])
    expect(done.steps[0].attempts).toBe(1)
  }, 120_000)
})
