import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ERROR_CODES } from '../src/errors.js'
import { runExamples, runProgram, shellBlocks } from './helpers/clients.js'
import { TEST_ENV } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { REPO, startServer, type TestServer } from './helpers/server.js'

const text = async (url: string) => {
  const res = await fetch(url)
  expect(res.status, url).toBe(200)
  return { body: await res.text(), type: res.headers.get('content-type') ?? '' }
}

describe('agent documents and the skill bundle', () => {
  let s: TestServer

  beforeAll(async () => {
    buildOnce()
    s = await startServer(TEST_ENV)
  })
  afterAll(() => s?.destroy())

  it('lists in /llms-full.md every endpoint of the OpenAPI document', async () => {
    const doc = (await s.api('GET', '/api/openapi.json')).body
    const { body: full, type } = await text(`${s.url}/llms-full.md`)
    expect(type).toMatch(/^text\/markdown/)
    const ops = Object.entries<Record<string, { operationId: string }>>(doc.paths).flatMap(([p, item]) =>
      Object.entries(item)
        .filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .map(([m, op]) => ({ heading: `### \`${m.toUpperCase()} ${p}\``, id: op.operationId })),
    )
    expect(ops.length).toBeGreaterThan(30)
    const missing = ops.filter((o) => !full.includes(o.heading) || !full.includes(`\`${o.id}\``))
    expect(missing, 'endpoints missing from /llms-full.md').toEqual([])
    // Schemas, protocols and fields come from the document too.
    expect(full).toContain('### ChatMessage')
    expect(full).toContain('| `timeout_ms` |')
    expect(full).toContain('{"type":"resize","cols":N,"rows":N}')
    for (const event of ['session', 'message', 'delta', 'tool', 'done', 'error'])
      expect(full).toContain(`| \`${event}\` |`)
  })

  it('lists every registered error code with its status, and each operation with its codes', async () => {
    const { body: full } = await text(`${s.url}/llms-full.md`)
    for (const [code, info] of Object.entries(ERROR_CODES))
      expect(full).toContain(`| \`${code}\` | ${info.status} |`)
    expect(full).toContain('`504` (`upstream_timeout`)')
  })

  it('uses the serving origin in every document and links them from GET /api', async () => {
    const root = (await s.api('GET', '/api', { key: null })).body
    for (const [name, p] of [
      ['llms_txt', '/llms.txt'],
      ['llms_full', '/llms-full.md'],
      ['agent_md', '/agent.md'],
      ['skill', '/skills/clawport/SKILL.md'],
      ['skill_archive', '/skills/clawport.tar.gz'],
    ])
      expect(root.links[name as string]).toBe(`${s.url}${p}`)
    for (const p of ['/llms.txt', '/llms-full.md', '/agent.md', '/skills/clawport/SKILL.md']) {
      const { body } = await text(`${s.url}${p}`)
      expect(body).toContain(`${s.url}/api`)
      expect(body).not.toMatch(/\{\{ORIGIN\}\}|127\.0\.0\.1:8080|example\.com/)
    }
    // A public URL, when set, wins over the request's origin (checked in-process elsewhere);
    // the agent guide covers what 403, 409 and 503 mean.
    const { body: guide } = await text(`${s.url}/agent.md`)
    for (const w of ['| 403 |', '| 409 |', '| 503 |', 'Last-Event-ID', 'Reuse a ready instance'])
      expect(guide).toContain(w)
  })

  it('serves the skill: SKILL.md with frontmatter, the client script, and an archive of both', async () => {
    const { body: skill } = await text(`${s.url}/skills/clawport/SKILL.md`)
    const front = /^---\nname: (.+)\ndescription: (.+)\n---\n/.exec(skill)
    expect(front?.[1]).toBe('clawport')
    expect(front?.[2]?.length).toBeGreaterThan(40)
    const { body: script, type } = await text(`${s.url}/skills/clawport/clawport.mjs`)
    expect(type).toMatch(/javascript/)
    expect(script).toContain(`const SERVED_FROM = '${s.url}'`)
    expect((await fetch(`${s.url}/skills/clawport/other.txt`)).status).toBe(404)
    const dir = fs.mkdtempSync(path.join(REPO, '.tmp-skill-'))
    try {
      const res = await fetch(`${s.url}/skills/clawport.tar.gz`)
      fs.writeFileSync(path.join(dir, 'a.tar.gz'), Buffer.from(await res.arrayBuffer()))
      const untar = await runProgram('tar', ['-xzf', 'a.tar.gz'], { cwd: dir })
      expect(untar.code, untar.stderr).toBe(0)
      expect(fs.readFileSync(path.join(dir, 'clawport/SKILL.md'), 'utf8')).toBe(skill)
      expect(fs.readFileSync(path.join(dir, 'clawport/clawport.mjs'), 'utf8')).toBe(script)
      expect(fs.statSync(path.join(dir, 'clawport/clawport.mjs')).mode & 0o777).toBe(0o755)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('runs the examples of /llms.txt and /agent.md (chat ones run with a real agent in clients-chat)', async () => {
    const blocks = [
      ...shellBlocks((await text(`${s.url}/llms.txt`)).body),
      ...shellBlocks((await text(`${s.url}/agent.md`)).body),
    ].filter((b) => !b.includes('/chat'))
    expect(blocks.length).toBeGreaterThan(5)
    const res = await runExamples(blocks, { OPENCLAW_API_KEY: s.adminKey })
    expect(res.code, `${res.stderr}\n${res.stdout}`).toBe(0)
    expect(res.stdout).toContain('"name": "Clawport"'.replace(': ', ':'))
    expect(res.stdout).toMatch(/"exit_code":0/)
    // The examples created one instance and reused it afterwards.
    expect((await s.api('GET', '/api/instances')).body).toHaveLength(1)
  })
})
