import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'

const MiB = 1024 * 1024

/** Resident memory of a process right now, from /proc. */
function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0) * 1024
}

/** Random bytes, produced chunk by chunk so the test holds little memory. */
function* chunks(total: number): Generator<Buffer> {
  for (let sent = 0; sent < total; sent += MiB) yield randomBytes(Math.min(MiB, total - sent))
}

describe('files through the API, executed inside the sandbox', () => {
  let s: TestServer
  let id: string
  const files = (p: string) => `/api/instances/${id}/files${p}`

  beforeAll(async () => {
    // Short body limits, to see an upload outlive them while it moves and be cut when it stalls.
    s = await startServer({
      ...TEST_ENV,
      CLAWPORT_REQUEST_TIMEOUT_MS: '2000',
      CLAWPORT_UPLOAD_IDLE_TIMEOUT_MS: '1000',
    })
    id = (await s.readyInstance()).id
  })
  afterAll(() => s?.destroy())

  it('writes, reads, lists and stats text files; parents are created', async () => {
    const w = await s.api('POST', files('/write'), {
      body: { path: 'notes/day/one.md', content: '# héllo\n' },
    })
    expect(w.status).toBe(200)
    expect(w.body).toEqual({ path: '/workspace/notes/day/one.md', size: Buffer.byteLength('# héllo\n') })
    const r = await s.api('GET', files('/read?path=notes/day/one.md'))
    expect(r.body).toMatchObject({ content: '# héllo\n', encoding: 'utf8', size: 9 })
    const list = await s.api('GET', files(''))
    expect(list.body.path).toBe('/workspace')
    expect(list.body.entries).toContainEqual(
      expect.objectContaining({ name: 'notes', type: 'dir', path: '/workspace/notes' }),
    )
    const st = await s.api('GET', files('/stat?path=/workspace/notes/day/one.md'))
    expect(st.body).toMatchObject({ name: 'one.md', type: 'file', size: 9 })
    expect(st.body.modified_at).toMatch(/Z$/)
    expect((await s.exec(id, 'cat notes/day/one.md')).stdout).toBe('# héllo\n')
  })

  it('round-trips binary content as base64', async () => {
    const bytes = randomBytes(4096)
    bytes[0] = 0
    const w = await s.api('POST', files('/write'), {
      body: { path: 'bin/blob', content: bytes.toString('base64'), encoding: 'base64' },
    })
    expect(w.body.size).toBe(4096)
    const r = await s.api('GET', files('/read?path=bin/blob'))
    expect(r.body.encoding).toBe('base64')
    expect(Buffer.from(r.body.content, 'base64').equals(bytes)).toBe(true)
    expect((await s.exec(id, 'sha256sum bin/blob')).stdout.split(' ')[0]).toBe(
      createHash('sha256').update(bytes).digest('hex'),
    )
    const bad = await s.api('POST', files('/write'), {
      body: { path: 'bin/bad', content: '***', encoding: 'base64' },
    })
    expect(bad.status).toBe(422)
    expect((await s.api('GET', files('/stat?path=bin/bad'))).status).toBe(404)
  })

  it('uploads with the hosted camelCase body and the snake_case one', async () => {
    const up = await s.api('POST', files('/upload'), {
      body: { targetDir: '/workspace/uploads', fileName: 'a.txt', content: 'alpha' },
    })
    expect(up.status).toBe(200)
    expect(up.body).toEqual({ path: '/workspace/uploads/a.txt', size: 5 })
    const up2 = await s.api('POST', files('/upload'), {
      body: {
        target_dir: 'uploads',
        file_name: 'b.bin',
        content: Buffer.from([0, 1, 2]).toString('base64'),
        encoding: 'base64',
      },
    })
    expect(up2.body).toEqual({ path: '/workspace/uploads/b.bin', size: 3 })
    for (const fileName of ['../escape.txt', 'a/b', '..', '']) {
      const bad = await s.api('POST', files('/upload'), {
        body: { targetDir: 'uploads', fileName, content: 'x' },
      })
      expect(bad.status).toBe(422)
    }
  })

  it('makes folders idempotently, moves and deletes', async () => {
    expect((await s.api('POST', files('/mkdir'), { body: { path: 'a/b/c' } })).body).toEqual({
      path: '/workspace/a/b/c',
    })
    expect((await s.api('POST', files('/mkdir'), { body: { path: 'a/b/c' } })).status).toBe(200)
    const mv = await s.api('POST', files('/move'), { body: { from: 'uploads/a.txt', to: 'a/b/c/moved.txt' } })
    expect(mv.body).toEqual({ path: '/workspace/a/b/c/moved.txt' })
    expect((await s.api('GET', files('/read?path=a/b/c/moved.txt'))).body.content).toBe('alpha')
    expect((await s.api('GET', files('/stat?path=uploads/a.txt'))).status).toBe(404)
    const notEmpty = await s.api('DELETE', files('?path=a'))
    expect(notEmpty.status).toBe(409)
    expect((await s.api('DELETE', files('?path=a&recursive=true'))).status).toBe(204)
    expect((await s.api('GET', files('/stat?path=a'))).status).toBe(404)
  })

  it('answers 404 for missing paths and 403 where the instance user may not write', async () => {
    const missing = await s.api('GET', files('/read?path=nope.txt'))
    expect(missing.status).toBe(404)
    expect(missing.body.code).toBe('path_not_found')
    const ro = await s.api('POST', files('/write'), { body: { path: '/usr/bin/evil', content: 'x' } })
    expect(ro.status).toBe(403)
    expect(ro.body.code).toBe('permission_denied')
    const nul = await s.api('GET', files('/read?path=a%00b'))
    expect(nul.status).toBe(422)
    const dir = await s.api('GET', files('/read?path=/workspace'))
    expect(dir.status).toBe(409)
  })

  it('downloads a file as raw bytes and a folder as .tar.gz', async () => {
    const file = await fetch(`${s.url}${files('/download?path=bin/blob')}`, {
      headers: { authorization: `Bearer ${s.adminKey}` },
    })
    expect(file.status).toBe(200)
    expect(file.headers.get('content-length')).toBe('4096')
    expect((await file.arrayBuffer()).byteLength).toBe(4096)
    const dir = await fetch(`${s.url}${files('/download?path=notes')}`, {
      headers: { authorization: `Bearer ${s.adminKey}` },
    })
    expect(dir.headers.get('content-type')).toBe('application/gzip')
    const gz = Buffer.from(await dir.arrayBuffer())
    expect(gz[0]).toBe(0x1f)
    expect(gz[1]).toBe(0x8b)
    await s.api('POST', files('/upload?path=back/notes.tar.gz'), {
      raw: gz,
      headers: { 'content-type': 'application/octet-stream' },
    })
    expect((await s.exec(id, 'tar -tzf back/notes.tar.gz')).stdout).toContain('notes/day/one.md')
  })

  it('downloads a file whose name is not Latin-1, naming it per RFC 6266', async () => {
    const name = 'résumé 日本.txt'
    expect(
      (await s.api('POST', files('/write'), { body: { path: `intl/${name}`, content: 'ok\n' } })).status,
    ).toBe(200)
    const res = await fetch(`${s.url}${files(`/download?path=${encodeURIComponent(`intl/${name}`)}`)}`, {
      headers: { authorization: `Bearer ${s.adminKey}` },
    })
    expect(res.status).toBe(200)
    const disposition = res.headers.get('content-disposition') ?? ''
    expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''/)
    const encoded = /filename\*=UTF-8''(\S+)$/.exec(disposition)?.[1] ?? ''
    expect(decodeURIComponent(encoded)).toBe(name)
    expect(await res.text()).toBe('ok\n')
  })

  /** Streams `parts` raw upload chunks, one every `everyMs`, then ends (or stalls: `end` false). */
  function slowUpload(target: string, parts: number, everyMs: number, end = true) {
    return new Promise<{ status: number; body: string; ms: number }>((resolve, reject) => {
      const started = Date.now()
      const req = http.request(`${s.url}${files(`/upload?path=${target}`)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/octet-stream' },
      })
      let sent = 0
      const pump = setInterval(() => {
        if (sent < parts) {
          req.write(Buffer.alloc(64 * 1024, sent++ % 256))
        } else {
          clearInterval(pump)
          if (end) req.end()
        }
      }, everyMs)
      req.on('response', (res) => {
        clearInterval(pump)
        let body = ''
        res.on('data', (d) => {
          body += d
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - started }))
      })
      req.on('error', (err) => {
        clearInterval(pump)
        reject(err)
      })
    })
  }

  it('lets a streamed upload take longer than the request timeout while it keeps moving', async () => {
    const up = await slowUpload('slow/steady.bin', 40, 100)
    expect(up.ms).toBeGreaterThan(3_000)
    expect(up.status).toBe(200)
    expect(JSON.parse(up.body)).toEqual({ path: '/workspace/slow/steady.bin', size: 40 * 64 * 1024 })
  })

  it('cuts a streamed upload that stalls, with 408 request_timeout', async () => {
    const up = await slowUpload('slow/stalled.bin', 1, 50, false)
    expect(up.status).toBe(408)
    expect(JSON.parse(up.body)).toMatchObject({ code: 'request_timeout', status: 408 })
    await new Promise((r) => setTimeout(r, 300))
    expect((await s.api('GET', files('/stat?path=slow/stalled.bin'))).status).toBe(404)
  })

  it('streams a 100 MB upload and download with bounded server memory', async () => {
    const size = 100 * MiB
    const hashUp = createHash('sha256')
    const source = Readable.from(
      (function* () {
        for (const c of chunks(size)) {
          hashUp.update(c)
          yield c
        }
      })(),
    )
    const rssBefore = rssBytes(s.pid)
    let peak = rssBefore
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssBytes(s.pid))
    }, 20)
    try {
      const up = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(`${s.url}${files('/upload?targetDir=/workspace/big&fileName=blob.bin')}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/octet-stream' },
        })
        req.on('response', (res) => {
          let body = ''
          res.on('data', (d) => {
            body += d
          })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        })
        req.on('error', reject)
        source.pipe(req)
      })
      expect(up.status).toBe(200)
      expect(JSON.parse(up.body)).toEqual({ path: '/workspace/big/blob.bin', size })
      const inside = await s.exec(id, 'sha256sum big/blob.bin', { timeout_ms: 60_000 })
      expect(inside.stdout.split(' ')[0]).toBe(hashUp.digest('hex'))

      const hashDown = createHash('sha256')
      let received = 0
      await new Promise<void>((resolve, reject) => {
        http
          .get(
            `${s.url}${files('/download?path=big/blob.bin')}`,
            { headers: { authorization: `Bearer ${s.adminKey}` } },
            (res) => {
              expect(res.statusCode).toBe(200)
              res.on('data', (d: Buffer) => {
                received += d.length
                hashDown.update(d)
              })
              res.on('end', resolve)
              res.on('error', reject)
            },
          )
          .on('error', reject)
      })
      expect(received).toBe(size)
      expect(hashDown.digest('hex')).toBe(inside.stdout.split(' ')[0])
    } finally {
      clearInterval(sampler)
    }
    // The server streams: a buffered 100 MB body would add at least 100 MB. Streaming plateaus
    // well below that (V8 frees the passed-through chunks lazily, ~60-75 MB here, whatever the size).
    expect(peak - rssBefore).toBeLessThan(96 * MiB)
  })

  it('drops a partial upload when the client goes away: nothing half-written is visible', async () => {
    await new Promise<void>((resolve) => {
      const req = http.request(`${s.url}${files('/upload?path=partial/file.bin')}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/octet-stream' },
      })
      req.on('error', () => resolve())
      req.write(Buffer.alloc(2 * MiB, 1))
      setTimeout(() => {
        req.destroy()
        resolve()
      }, 300)
    })
    await new Promise((r) => setTimeout(r, 500))
    expect((await s.api('GET', files('/stat?path=partial/file.bin'))).status).toBe(404)
    const leftovers = await s.exec(id, 'ls -A partial 2>/dev/null | wc -l')
    expect(leftovers.stdout.trim()).toBe('0')
  })
})
