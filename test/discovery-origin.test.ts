import { gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcess, inProcess } from './helpers/app.js'

const DOCS = ['/llms.txt', '/agent.md', '/llms-full.md', '/skills/clawport/SKILL.md', '/api']

/** Every served document, as text (the skill archive unpacked). */
async function documents(t: InProcess, host: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const p of DOCS) {
    const res = await t.app.inject({ method: 'GET', url: p, headers: { host } })
    expect(res.statusCode, p).toBe(200)
    out[p] = res.body
  }
  const archive = await t.app.inject({ method: 'GET', url: '/skills/clawport.tar.gz', headers: { host } })
  expect(archive.statusCode).toBe(200)
  out['/skills/clawport.tar.gz'] = gunzipSync(archive.rawPayload).toString('latin1')
  return out
}

describe('documents name this server, never a forged Host', () => {
  let t: InProcess

  beforeAll(async () => {
    t = await inProcess()
  })
  afterAll(() => t?.close())

  it('ignores Host: evil.example and names the listen address', async () => {
    for (const host of [
      'evil.example',
      'evil.example:8080',
      '127.0.0.1@evil.example',
      'localhost/evil.example',
    ]) {
      for (const [p, text] of Object.entries(await documents(t, host))) {
        expect(text, `${p} with Host ${host}`).not.toContain('evil.example')
        expect(text, p).toContain('http://127.0.0.1:8080')
      }
    }
  })

  it('keeps a Host that names this server', async () => {
    const docs = await documents(t, 'localhost:8080')
    expect(docs['/llms.txt']).toContain('http://localhost:8080/api')
    expect(JSON.parse(docs['/api'] as string).links.agent_md).toBe('http://localhost:8080/agent.md')
    expect((await documents(t, '127.0.0.1:8080'))['/agent.md']).toContain('http://127.0.0.1:8080/')
  })
})

describe('with CLAWPORT_PUBLIC_URL', () => {
  let t: InProcess

  beforeAll(async () => {
    t = await inProcess({ CLAWPORT_PUBLIC_URL: 'https://claw.example.com/' })
  })
  afterAll(() => t?.close())

  it('names the public URL whatever the Host', async () => {
    for (const [p, text] of Object.entries(await documents(t, 'evil.example'))) {
      expect(text, p).not.toContain('evil.example')
      expect(text, p).toContain('https://claw.example.com')
    }
  })
})
