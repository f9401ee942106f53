import { execFile, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LOG_LINE_MAX_CHARS, LOG_READ_MAX_BYTES } from '../src/drivers/instance-logs.js'
import { instanceLayout } from '../src/drivers/local/layout.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { insertInstanceRow } from './helpers/rows.js'
import { SseReader } from './helpers/sse.js'

let t: InProcess
let key: string
let otherKey: string
let id: string
let run: string
let home: string
/** A host file no instance may read through its logs. */
let hostSecret: string
let base: string

beforeAll(async () => {
  t = await inProcess()
  key = await t.user('logs@example.com', 'pro')
  otherKey = await t.user('other@example.com', 'pro')
  const owner = await t.services.store.users.byEmail('logs@example.com')
  id = await insertInstanceRow(t.services.store, owner?.id ?? '')
  const l = instanceLayout(t.dataDir, id)
  run = l.run
  home = l.home
  fs.mkdirSync(run, { recursive: true })
  fs.mkdirSync(home, { recursive: true })
  const hostDir = path.join(t.dataDir, 'host-only')
  fs.mkdirSync(path.join(hostDir, 'logs'), { recursive: true })
  hostSecret = path.join(hostDir, 'secret.txt')
  fs.writeFileSync(hostSecret, 'HOST-SECRET-LINE\n')
  fs.writeFileSync(path.join(hostDir, 'logs', 'gateway.out'), 'HOST-SECRET-LINE\n')
  base = `/api/instances/${id}/logs`
  await t.app.listen({ port: 0, host: '127.0.0.1' })
})

afterAll(async () => {
  await t?.close()
})

function reset(file: string): void {
  fs.rmSync(file, { force: true, recursive: true })
}

describe('GET /api/instances/{id}/logs', () => {
  it('answers the last lines of each source from files on the instance disk', async () => {
    const lines = Array.from({ length: 300 }, (_, i) => `clawlet line ${i}`)
    fs.writeFileSync(path.join(run, 'clawlet.log'), `${lines.join('\n')}\n`)
    const res = await t.inject('GET', `${base}?tail=10`, key)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ instance_id: id, source: 'clawlet', lines: lines.slice(-10) })
    fs.writeFileSync(path.join(run, 'sandbox.log'), 'bwrap: boot line\n')
    expect((await t.inject('GET', `${base}?source=boot`, key)).body.lines).toEqual(['bwrap: boot line'])
    fs.mkdirSync(path.join(home, '.openclaw', 'logs'), { recursive: true })
    fs.writeFileSync(path.join(home, '.openclaw', 'logs', 'gateway.out'), 'gateway listening\n')
    expect((await t.inject('GET', `${base}?source=gateway`, key)).body.lines).toEqual(['gateway listening'])
    expect((await t.inject('GET', `${base}?source=desktop`, key)).body.lines).toEqual([])
  })

  it('is for the owner only, and refuses a bad source or tail', async () => {
    expect((await t.inject('GET', base, otherKey)).status).toBe(404)
    expect((await t.inject('GET', base, null)).status).toBe(401)
    expect((await t.inject('GET', `${base}?source=etc`, key)).status).toBe(422)
    expect((await t.inject('GET', `${base}?tail=5000`, key)).status).toBe(422)
  })

  it('cuts long lines and reads no further back than its cap in a huge file', async () => {
    const file = path.join(run, 'clawlet.log')
    reset(file)
    const fd = fs.openSync(file, 'w')
    // 20 GiB that take no space: a read of the whole file would never end.
    fs.ftruncateSync(fd, 20 * 1024 ** 3)
    fs.writeSync(fd, `\n${'x'.repeat(10_000)}\nlast line\n`, 20 * 1024 ** 3)
    fs.closeSync(fd)
    const res = await t.inject('GET', `${base}?tail=1000`, key)
    expect(res.body.lines.at(-1)).toBe('last line')
    expect(res.body.lines.at(-2)).toBe(`${'x'.repeat(LOG_LINE_MAX_CHARS)} [cut]`)
    expect(JSON.stringify(res.body).length).toBeLessThan(LOG_READ_MAX_BYTES * 2)
  })

  it('never follows a symlink, a symlinked folder or a hard link out of the instance', async () => {
    const sandboxLog = path.join(run, 'sandbox.log')
    reset(sandboxLog)
    fs.symlinkSync(hostSecret, sandboxLog)
    // The folder on the way to the gateway's log, swapped for one on the host.
    reset(path.join(home, '.openclaw'))
    fs.symlinkSync(path.dirname(hostSecret), path.join(home, '.openclaw'))
    const clawletLog = path.join(run, 'clawlet.log')
    reset(clawletLog)
    fs.linkSync(hostSecret, clawletLog)
    for (const source of ['boot', 'gateway', 'clawlet']) {
      const res = await t.inject('GET', `${base}?source=${source}`, key)
      expect(res.status).toBe(200)
      expect(res.body.lines).toEqual([])
      expect(JSON.stringify(res.body)).not.toContain('HOST-SECRET')
    }
    reset(path.join(home, '.openclaw'))
    reset(clawletLog)
  })

  it('neither blocks on a FIFO nor reads a device', async () => {
    const desktopLog = path.join(run, 'desktop.log')
    reset(desktopLog)
    execFileSync('mkfifo', [desktopLog])
    const fifo = await t.inject('GET', `${base}?source=desktop`, key)
    expect(fifo).toMatchObject({ status: 200, body: { lines: [] } })
    const bootLog = path.join(run, 'sandbox.log')
    reset(bootLog)
    // /dev/zero: a read would never end.
    execFileSync('mknod', [bootLog, 'c', '1', '5'])
    const device = await t.inject('GET', `${base}?source=boot`, key)
    expect(device).toMatchObject({ status: 200, body: { lines: [] } })
    reset(desktopLog)
    reset(bootLog)
  })

  it('follows a log as SSE through appends, a flood and a rotation', async () => {
    const file = path.join(run, 'clawlet.log')
    reset(file)
    fs.writeFileSync(file, 'before\n')
    const address = t.app.server.address() as { port: number }
    const abort = new AbortController()
    const res = await fetch(`http://127.0.0.1:${address.port}${base}?follow=true&tail=5`, {
      headers: { authorization: `Bearer ${key}` },
      signal: abort.signal,
    })
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const sse = new SseReader(res)
    expect(await sse.next(5000)).toMatchObject({ event: 'lines', data: { lines: ['before'] } })
    fs.appendFileSync(file, 'one\ntwo\npartial')
    expect((await sse.next(5000))?.data).toEqual({ lines: ['one', 'two'], skipped_bytes: 0 })
    fs.appendFileSync(file, ' done\n')
    expect((await sse.next(5000))?.data.lines).toEqual(['partial done'])
    // A flood: one look reads at most its cap and says how much it passed over.
    fs.appendFileSync(file, `${'flood line\n'.repeat(100_000)}`)
    const flood = (await sse.next(5000))?.data
    expect(flood.skipped_bytes).toBeGreaterThan(0)
    expect(flood.lines.join('\n').length).toBeLessThanOrEqual(LOG_READ_MAX_BYTES)
    // Rotated: the new file is read from its start.
    fs.renameSync(file, `${file}.1`)
    fs.writeFileSync(file, 'after rotation\n')
    expect((await sse.next(5000))?.data.lines).toEqual(['after rotation'])
    abort.abort()
    await sse.cancel()
  })

  it('prints a tail from the CLI', async () => {
    fs.writeFileSync(path.join(run, 'clawlet.log'), 'first\nsecond\nthird\n')
    const address = t.app.server.address() as { port: number }
    // Not execFileSync: the server answering it runs in this process.
    const { stdout: out } = await promisify(execFile)(
      process.execPath,
      [
        path.join(import.meta.dirname, '../bin/clawport.js'),
        'instances',
        'logs',
        id,
        '--tail',
        '2',
        '--base-url',
        `http://127.0.0.1:${address.port}`,
        '--api-key',
        key,
      ],
      { encoding: 'utf8' },
    )
    expect(out).toBe('second\nthird\n')
  })

  it('answers 404 before any stream for an instance of another user', async () => {
    const res = await t.inject('GET', `${base}?follow=true`, otherKey)
    expect(res.status).toBe(404)
    expect(res.body.code).toBe('instance_not_found')
  })
})
