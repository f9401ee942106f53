import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { attachmentDisposition } from '../src/http/content-disposition.js'
import { type InProcess, inProcess } from './helpers/app.js'

/** Parses `filename*=UTF-8''...` back to the name a browser would save. */
function extName(header: string): string | undefined {
  const m = /filename\*=UTF-8''([^;\s]+)/.exec(header)
  return m ? decodeURIComponent(m[1] as string) : undefined
}

describe('Content-Disposition for any file name', () => {
  it('keeps a plain ASCII name as it is', () => {
    expect(attachmentDisposition('report-2024.txt')).toBe('attachment; filename="report-2024.txt"')
  })

  it('gives a non-Latin-1 name an ASCII fallback and the exact name encoded (RFC 6266)', () => {
    const h = attachmentDisposition('résumé 日本.txt')
    expect(h).toBe(
      `attachment; filename="resume __.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E6%97%A5%E6%9C%AC.txt`,
    )
    expect(extName(h)).toBe('résumé 日本.txt')
    // Every character is one Node accepts in a header.
    expect(/^[\x20-\x7e]+$/.test(h)).toBe(true)
  })

  it('never lets quotes, backslashes, percent signs or line breaks into the header', () => {
    const name = 'a"b\\c%41\r\nSet-Cookie: x=1\u0000'
    const h = attachmentDisposition(name)
    expect(h).not.toMatch(/[\r\n\0]/)
    expect(h.split(';')[1]).toBe(' filename="a_b_c_41__Set-Cookie: x=1_"')
    expect(extName(h)).toBe(name)
    expect(attachmentDisposition("it's (1)*ü.txt")).toContain(
      "filename*=UTF-8''it%27s%20%281%29%2A%C3%BC.txt",
    )
  })

  it('survives names with lone surrogates', () => {
    expect(() => attachmentDisposition('a\ud800b')).not.toThrow()
  })
})

describe('error answers keep the contract shape', () => {
  let t: InProcess

  beforeAll(async () => {
    t = await inProcess()
    // A handler that sets a header Node refuses, the way a raw non-ASCII download name did.
    t.app.get('/test/bad-header', { config: { public: true } }, async (_req, reply) => {
      reply.header('content-disposition', 'attachment; filename="日本.txt"')
      return reply.send('bytes')
    })
  })
  afterAll(() => t?.close())

  it('answers {message, code, status} even when the failed answer had set an invalid header', async () => {
    const res = await t.inject('GET', '/test/bad-header')
    expect(res.status).toBe(500)
    expect(res.body).toEqual({ message: expect.any(String), code: 'internal_error', status: 500 })
    expect(res.headers['content-disposition']).toBeUndefined()
  })
})
