import { type ChildProcess, spawn } from 'node:child_process'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, clientEnv } from './helpers/clients.js'
import { TEST_ENV } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

type ToolResult = {
  content: Array<{ type: string; text?: string; data?: string; mimeType?: string }>
  isError?: boolean
}
const textOf = (r: ToolResult) => r.content[0]?.text ?? ''
const jsonOf = (r: ToolResult) => JSON.parse(textOf(r))

/** `clawport mcp` as an MCP client sees it, over stdio and over streamable HTTP. */
describe('the MCP server', () => {
  let s: TestServer
  let stdio: Client
  let http: Client
  let httpProc: ChildProcess
  let id: string
  let mcpUrl: URL
  const call = async (c: Client, name: string, args: Record<string, unknown> = {}) =>
    (await c.callTool({ name, arguments: args })) as ToolResult

  beforeAll(async () => {
    buildOnce()
    s = await startServer(TEST_ENV)
    stdio = new Client({ name: 'test', version: '1.0.0' })
    await stdio.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [CLI, 'mcp'],
        env: { ...(process.env as Record<string, string>), ...clientEnv(s.url, s.adminKey) },
      }),
    )
    // Streamable HTTP, started without a key: each request brings its own bearer key.
    httpProc = spawn(process.execPath, [CLI, 'mcp', '--http', '--port', '0', '--base-url', s.url], {
      env: { ...process.env, OPENCLAW_API_KEY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const url = await new Promise<string>((resolve, reject) => {
      let out = ''
      httpProc.stdout?.on('data', (c: Buffer) => {
        out += c.toString()
        const m = /clawport mcp (http:\/\/\S+) ready/.exec(out)
        if (m) resolve(m[1] as string)
      })
      httpProc.once('exit', (code) => reject(new Error(`mcp --http exited ${code}: ${out}`)))
    })
    mcpUrl = new URL(url)
    http = new Client({ name: 'test-http', version: '1.0.0' })
    await http.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { authorization: `Bearer ${s.adminKey}` } },
      }),
    )
  })
  afterAll(async () => {
    await stdio?.close().catch(() => {})
    await http?.close().catch(() => {})
    httpProc?.kill('SIGTERM')
    await s?.destroy()
  })

  it('lists the instance tools', async () => {
    for (const c of [stdio, http]) {
      const names = (await c.listTools()).tools.map((t) => t.name).sort()
      expect(names).toEqual([
        'chat',
        'create_instance',
        'exec',
        'list_files',
        'list_instances',
        'read_file',
        'screenshot',
        'write_file',
      ])
    }
  })

  it('creates an instance, then works in it: exec, write, read, list', async () => {
    expect(jsonOf(await call(stdio, 'list_instances'))).toEqual([])
    const none = await call(stdio, 'exec', { command: 'true' })
    expect(none.isError).toBe(true)
    expect(textOf(none)).toMatch(/^HTTP 409: No ready instance/)
    const created = jsonOf(await call(stdio, 'create_instance', { name: 'mcp', wait: true }))
    expect(created).toMatchObject({ status: 'ready', name: 'mcp' })
    id = created.id
    const w = jsonOf(await call(stdio, 'write_file', { path: 'notes/a.txt', content: 'from mcp' }))
    expect(w).toEqual({ path: '/workspace/notes/a.txt', size: 8 })
    // Over HTTP with the request's bearer key, the same instance and files.
    expect(jsonOf(await call(http, 'list_instances')).map((i: any) => i.id)).toEqual([id])
    expect(jsonOf(await call(http, 'read_file', { path: 'notes/a.txt' })).content).toBe('from mcp')
    const run = jsonOf(
      await call(http, 'exec', { command: 'cat a.txt; exit 2', cwd: '/workspace/notes', instance_id: id }),
    )
    expect(run).toMatchObject({ stdout: 'from mcp', exit_code: 2 })
    expect(jsonOf(await call(http, 'list_files', { path: 'notes' })).entries[0].name).toBe('a.txt')
    const missing = await call(http, 'read_file', { path: 'nope' })
    expect(missing).toMatchObject({ isError: true })
    expect(textOf(missing)).toBe('HTTP 404: /workspace/nope does not exist.')
  })

  it('takes a screenshot of the desktop as a PNG image', async () => {
    let shot: ToolResult | undefined
    await waitFor(
      () => `a screenshot of the desktop, last: ${shot && textOf(shot)}`,
      async () => {
        shot = await call(stdio, 'screenshot', { instance_id: id })
        return !shot.isError
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
    const img = shot?.content[0]
    expect(img?.type).toBe('image')
    expect(img?.mimeType).toBe('image/png')
    expect(
      Buffer.from(img?.data ?? '', 'base64')
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG')
  })

  it('answers chat with the agent off as a tool error, not a crash', async () => {
    const r = await call(http, 'chat', { message: 'hello' })
    expect(r.isError).toBe(true)
    expect(textOf(r)).toMatch(/^HTTP 503: /)
  })

  it('refuses an HTTP request without a key as the API does', async () => {
    const anon = new Client({ name: 'anon', version: '1.0.0' })
    await anon.connect(new StreamableHTTPClientTransport(mcpUrl))
    const r = (await anon.callTool({ name: 'list_instances', arguments: {} })) as ToolResult
    expect(textOf(r)).toMatch(/^HTTP 401: /)
    await anon.close()
  })
})
