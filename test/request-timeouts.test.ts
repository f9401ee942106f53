import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'

interface RawAnswer {
  /** Everything the server sent before it closed the connection. */
  text: string
}

/**
 * Opens a raw connection, sends `head`, then one byte of `trickle` every `everyMs` until the
 * server closes the connection or `giveUpMs` pass (a server that never cuts fails the test).
 */
function trickle(port: number, head: string, trickleBytes: string, everyMs = 100, giveUpMs = 8_000) {
  return new Promise<RawAnswer>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    let i = 0
    const pump = setInterval(() => {
      if (i < trickleBytes.length && socket.writable) socket.write(trickleBytes[i++] as string)
    }, everyMs)
    const giveUp = setTimeout(() => {
      clearInterval(pump)
      socket.destroy()
      reject(new Error(`still open after ${giveUpMs} ms; got: ${JSON.stringify(text)}`))
    }, giveUpMs)
    socket.on('data', (d) => {
      text += d.toString()
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearInterval(pump)
      clearTimeout(giveUp)
      resolve({ text })
    })
    socket.write(head)
  })
}

function jsonOf(answer: RawAnswer): any {
  return JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4))
}

/** Slow senders cannot hold connections: bodies and headers have a time limit (a real port). */
describe('request timeouts', () => {
  let t: InProcess
  let key: string
  let port: number
  const LIMIT_MS = 500

  beforeAll(async () => {
    t = await inProcess({ ...TEST_ENV, CLAWPORT_REQUEST_TIMEOUT_MS: String(LIMIT_MS) })
    key = await t.user('slow@example.com', 'pro')
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = (t.app.server.address() as net.AddressInfo).port
  })

  afterAll(async () => {
    await t?.close()
  })

  const post = (path: string, length: number, auth?: string) =>
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${length}\r\n${auth ? `Authorization: Bearer ${auth}\r\n` : ''}\r\n`

  it('cuts a trickling body to an unauthenticated route', async () => {
    const body = JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(60) })
    const answer = await trickle(port, post('/api/auth/login', body.length), body)
    expect(answer.text).toMatch(/^HTTP\/1\.1 408 /)
    expect(jsonOf(answer)).toEqual({
      message: expect.any(String),
      code: 'request_timeout',
      status: 408,
    })
  })

  it('cuts a trickling body to an authenticated JSON route', async () => {
    const body = JSON.stringify({ name: 'n'.repeat(80) })
    const answer = await trickle(port, post('/api/instances', body.length, key), body)
    expect(answer.text).toMatch(/^HTTP\/1\.1 408 /)
    expect(jsonOf(answer).code).toBe('request_timeout')
  })

  it('drops the connection of a refused request whose body keeps trickling', async () => {
    const body = JSON.stringify({ name: 'n'.repeat(80) })
    const answer = await trickle(port, post('/api/instances', body.length), body)
    expect(answer.text).toMatch(/^HTTP\/1\.1 401 /)
  })

  it('cuts trickling headers, answering in the contract shape', async () => {
    const answer = await trickle(
      port,
      'GET /api/me HTTP/1.1\r\n',
      'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    )
    expect(answer.text).toMatch(/^HTTP\/1\.1 408 /)
    expect(jsonOf(answer)).toMatchObject({ code: 'request_timeout', status: 408 })
  })

  it('answers a request that is not HTTP in the contract shape', async () => {
    const answer = await trickle(port, 'NOT HTTP AT ALL\r\n\r\n', '')
    expect(answer.text).toMatch(/^HTTP\/1\.1 400 /)
    expect(jsonOf(answer)).toMatchObject({ code: 'bad_request', status: 400 })
  })

  it('keeps taking a body that arrives in time, and keeps the connection for the next request', async () => {
    const body = JSON.stringify({ email: 'nobody@example.com', password: 'wrong-password' })
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    socket.on('data', (d) => {
      text += d.toString()
    })
    socket.write(post('/api/auth/login', body.length))
    for (const part of [body.slice(0, 10), body.slice(10)]) {
      await new Promise((r) => setTimeout(r, LIMIT_MS / 3))
      socket.write(part)
    }
    await new Promise((r) => setTimeout(r, LIMIT_MS + 500))
    expect(text).toMatch(/^HTTP\/1\.1 401 /)
    expect(text).toContain('"invalid_credentials"')
    expect(socket.destroyed).toBe(false)
    socket.destroy()
  })
})
