import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkSchedule } from '../src/core/automation/schedule.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'
import { insertInstanceRow } from './helpers/rows.js'

/** A pipeline's schedule may not fire more often than once a minute (by default). */
describe('pipeline schedule floor', () => {
  let t: InProcess
  let key: string
  let instanceId: string

  beforeAll(async () => {
    t = await inProcess(TEST_ENV)
    key = await t.user('cron@example.com', 'pro')
    const user = await t.services.accounts.userByEmail('cron@example.com')
    instanceId = await insertInstanceRow(t.services.store, user.id)
  })
  afterAll(() => t?.close())

  const create = (schedule: string) =>
    t.inject('POST', '/api/pipelines', key, {
      name: 'cron',
      schedule,
      steps: [{ name: 'one', type: 'exec', instance_id: instanceId, command: 'true' }],
    })

  it('refuses a schedule of every second with 422 and a clear message', async () => {
    const res = await create('* * * * * *')
    expect(res.status).toBe(422)
    expect(res.body).toMatchObject({
      code: 'validation_failed',
      status: 422,
      details: { field: 'schedule', min_interval_s: 60 },
    })
    expect(res.body.message).toMatch(/fires 1 s apart; a schedule may fire at most once every 60 s/)
    expect((await t.inject('GET', '/api/pipelines', key)).body).toEqual([])
  })

  it('refuses every 30 seconds, and a burst of seconds once a minute', async () => {
    expect((await create('*/30 * * * * *')).status).toBe(422)
    expect((await create('0-4 * * * * *')).status).toBe(422)
    expect((await create('0,59 * * * * *')).status).toBe(422)
  })

  it('takes once a minute and slower', async () => {
    // Each next run is the schedule's next time, in UTC.
    const next: Array<[string, RegExp]> = [
      ['* * * * *', /T\d\d:\d\d:00\.000Z$/],
      ['0 * * * * *', /T\d\d:\d\d:00\.000Z$/],
      ['0 3 * * *', /T03:00:00\.000Z$/],
      ['*/5 * * * *', /T\d\d:\d[05]:00\.000Z$/],
    ]
    for (const [schedule, at] of next) {
      const res = await create(schedule)
      expect(res.status, schedule).toBe(201)
      expect(res.body.next_run_at, schedule).toMatch(at)
      expect(Date.parse(res.body.next_run_at), schedule).toBeGreaterThan(Date.now() - 1000)
    }
  })

  it('still refuses an expression that is not cron', async () => {
    const res = await create('nope')
    expect(res.status).toBe(422)
    expect(res.body.message).toMatch(/not a valid cron expression/)
  })

  it('lets an operator lower the floor', () => {
    expect(() => checkSchedule('*/2 * * * * *', 1_000)).not.toThrow()
    expect(() => checkSchedule('* * * * * *', 2_000)).toThrow(/at most once every 2 s/)
  })
})
