import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

/**
 * A client written against the hosted product's documentation, unchanged: a base URL that
 * ends in /api, bearer keys, bare arrays, targetDir/fileName uploads and timeout_ms.
 */
function hostedClient(baseUrl: string, apiKey: string) {
  const base = baseUrl.replace(/\/+$/, '')
  async function call(method: string, path: string, body?: unknown) {
    const res = await fetch(base + path, {
      method,
      headers: {
        Authorization: `Bearer ${apiKey}`,
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    })
    const data = (await res.json()) as any
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${data.message}`)
    return data
  }
  return {
    root: () => fetch(`${base}/`).then((r) => r.json() as Promise<any>),
    listInstances: () => call('GET', '/instances'),
    createInstance: () => call('POST', '/instances', {}),
    getInstance: (id: string) => call('GET', `/instances/${id}`),
    readFile: (id: string, path: string) =>
      call('GET', `/instances/${id}/files/read?path=${encodeURIComponent(path)}`),
    writeFile: (id: string, path: string, content: string) =>
      call('POST', `/instances/${id}/files/write`, { path, content }),
    mkdir: (id: string, path: string) => call('POST', `/instances/${id}/files/mkdir`, { path }),
    upload: (id: string, targetDir: string, fileName: string, content: string) =>
      call('POST', `/instances/${id}/files/upload`, { targetDir, fileName, content }),
    exec: (id: string, command: string, timeout_ms: number) =>
      call('POST', `/instances/${id}/terminal/exec`, { command, timeout_ms }),
  }
}

describe('a client that follows the hosted docs', () => {
  let s: TestServer

  beforeAll(async () => {
    s = await startServer(TEST_ENV)
  })
  afterAll(() => s?.destroy())

  it('works unchanged against Clawport', async () => {
    const client = hostedClient(`${s.url}/api`, s.adminKey)
    const root = await client.root()
    expect(root.resources).toContain('/api/instances')
    expect(await client.listInstances()).toEqual([])
    const created = await client.createInstance()
    expect(created).toHaveProperty('id')
    expect(created).toHaveProperty('sandbox_id')
    await waitFor(
      'the instance to be ready',
      async () => (await client.getInstance(created.id)).status === 'ready',
      { timeoutMs: 60_000 },
    )
    const list = await client.listInstances()
    expect(list[0]).toMatchObject({ id: created.id, status: 'ready' })
    expect(Object.keys(list[0])).toEqual(
      expect.arrayContaining(['id', 'status', 'sandbox_id', 'created_at', 'updated_at']),
    )

    await client.mkdir(created.id, '/workspace/project')
    await client.upload(created.id, '/workspace/project', 'README.md', '# project\n')
    await client.writeFile(created.id, '/workspace/project/main.sh', 'echo from-script\n')
    expect((await client.readFile(created.id, '/workspace/project/README.md')).content).toBe('# project\n')
    const run = await client.exec(created.id, 'cd project && sh main.sh && ls', 10_000)
    expect(run).toMatchObject({ exit_code: 0, timed_out: false })
    expect(run.stdout).toBe('from-script\nREADME.md\nmain.sh\n')
    const slow = await client.exec(created.id, 'sleep 5', 300)
    expect(slow.timed_out).toBe(true)
    await expect(client.readFile(created.id, '/workspace/missing')).rejects.toThrow(/^HTTP 404: /)
  })

  it('also works with a base URL without /api', async () => {
    const res = await fetch(`${s.url}/api/instances`, { headers: { Authorization: `Bearer ${s.adminKey}` } })
    expect(res.status).toBe(200)
    expect(Array.isArray(await res.json())).toBe(true)
  })
})
