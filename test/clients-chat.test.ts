import path from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Clawport } from '../packages/sdk/src/index.js'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { CLI, clientEnv, runExamples, runNode, shellBlocks } from './helpers/clients.js'
import { gatewayEnv } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { REPO, startServer, type TestServer } from './helpers/server.js'

/**
 * Chat through every client with a real OpenClaw gateway and the scripted model (which
 * answers `echo: <message>`): the documented examples, the skill script, the CLI, the SDK and
 * the MCP server. One instance (one gateway boot) serves the whole file.
 */
describe('chat through the clients, with a real agent', () => {
  let s: TestServer
  let model: ModelServer
  let key: string
  let id: string
  const env = () => clientEnv(s.url, key, id)

  beforeAll(async () => {
    buildOnce()
    model = await startModelServer()
    s = await startServer(gatewayEnv(model.baseUrl, 'sk-upstream-clients-test', { CLAWPORT_DESKTOP: 'off' }))
    key = await s.user('clients@example.com', 'agent')
    id = (await s.readyInstance(key, {}, 240_000)).id
  }, 300_000)
  afterAll(async () => {
    await s?.destroy()
    await model?.close()
  })

  it('runs the chat examples of /llms.txt and /agent.md', async () => {
    const docs = await Promise.all(
      ['/llms.txt', '/agent.md'].map(async (p) => (await fetch(s.url + p)).text()),
    )
    const blocks = docs.flatMap(shellBlocks).filter((b) => b.includes('/chat'))
    expect(blocks.length).toBeGreaterThanOrEqual(3)
    const res = await runExamples(blocks, { OPENCLAW_API_KEY: key, OPENCLAW_INSTANCE_ID: id })
    expect(res.code, `${res.stderr}\n${res.stdout}`).toBe(0)
    expect(res.stdout).toContain('echo: Hello! What can you do?')
    expect(res.stdout).toMatch(/event: delta/)
    expect(res.stdout).toMatch(/event: done/)
    expect(res.stdout).toContain('echo: Summarize the files in /workspace')
  }, 180_000)

  it('chats through the skill script: sessions, sync and streamed sends, tail', async () => {
    const script = path.join(REPO, 'dist/skills/clawport/clawport.mjs')
    const skill = async (...args: string[]) => {
      const r = await runNode(script, args, { env: env() })
      expect(r.code, r.stderr).toBe(0)
      return r.stdout
    }
    const session = JSON.parse(await skill('chat', 'new', '--title', 'skill'))
    const turn = JSON.parse(await skill('chat', 'send', 'from the skill', '--session', session.id))
    expect(turn).toMatchObject({ session_id: session.id, message: { content: 'echo: from the skill' } })
    const lines = (await skill('chat', 'send', '--stream', 'streamed skill', '--session', session.id))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines[0].event).toBe('session')
    expect(lines.at(-1)).toMatchObject({
      event: 'done',
      data: { message: { content: 'echo: streamed skill' } },
    })
    expect(lines.every((l) => typeof l.id === 'number')).toBe(true)
    const tail = JSON.parse(await skill('chat', 'tail', '--session', session.id, '--limit', '2'))
    expect(tail.map((m: any) => m.content)).toEqual(['streamed skill', 'echo: streamed skill'])
    expect(JSON.parse(await skill('chat', 'sessions')).map((x: any) => x.id)).toContain(session.id)
  }, 120_000)

  it('chats through the CLI: streamed to the terminal, sync, --json events, sessions, history', async () => {
    const cli = (...args: string[]) => runNode(CLI, args, { env: env() })
    const made = await cli('chat', 'sessions', 'new', '--title', 'cli')
    const sid = made.stdout.trim()
    const streamed = await cli('chat', 'send', 'hello from the cli', '--session', sid)
    expect(streamed).toMatchObject({ code: 0, stdout: 'echo: hello from the cli\n' })
    const sync = await cli('chat', 'send', 'sync please', '--session', sid, '--no-stream')
    expect(sync.stdout).toBe('echo: sync please\n')
    const events = (await cli('chat', 'send', 'as events', '--session', sid, '--json')).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(events.map((e) => e.event)).toContain('delta')
    expect(events.at(-1).event).toBe('done')
    const history = await cli('chat', 'history', '--session', sid, '--limit', '2')
    expect(history.stdout).toBe('user: as events\nassistant: echo: as events\n')
    const sessions = JSON.parse((await cli('chat', 'sessions', '--json')).stdout)
    expect(sessions[0]).toMatchObject({ id: sid, title: 'cli' })
  }, 120_000)

  it('chats through the SDK: send, stream, follow from a cursor, messages and events', async () => {
    const client = new Clawport({ baseUrl: s.url, apiKey: key })
    const session = await client.chat.createSession(id, 'sdk')
    const turn = await client.chat.send(id, 'sdk sync', session.id)
    expect(turn.message.content).toBe('echo: sdk sync')
    const seen = []
    for await (const e of client.chat.stream(id, 'sdk stream', { sessionId: session.id })) seen.push(e)
    expect(seen[0]?.event).toBe('session')
    expect(seen.at(-1)).toMatchObject({ event: 'done', data: { message: { content: 'echo: sdk stream' } } })
    // Resume from the cursor before the streamed turn: the same events again, none missing.
    const first = seen[0]?.id as number
    const followed = []
    for await (const e of client.chat.follow(id, { after: first - 1, sessionId: session.id })) {
      followed.push(e)
      if (e.event === 'done') break
    }
    expect(followed.map((e) => e.id)).toEqual(seen.map((e) => e.id))
    const events = await client.chat.events(id, { after: first - 1, session_id: session.id })
    expect(events.map((e) => e.cursor)).toEqual(seen.map((e) => e.id))
    const msgs = await client.chat.messages(id, { session_id: session.id })
    expect(msgs.map((m) => m.content)).toEqual([
      'sdk sync',
      'echo: sdk sync',
      'sdk stream',
      'echo: sdk stream',
    ])
    const example = await runNode('examples/quickstart.ts', [], {
      cwd: path.join(REPO, 'packages/sdk'),
      env: env(),
    })
    expect(example.code, example.stderr).toBe(0)
    expect(example.stdout).toContain('agent: echo: Say hello in five words.')
  }, 120_000)

  it('chats through the MCP server', async () => {
    const mcp = new Client({ name: 'chat-test', version: '1.0.0' })
    await mcp.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [CLI, 'mcp'],
        env: { ...(process.env as Record<string, string>), ...env() },
      }),
    )
    try {
      const r = (await mcp.callTool({ name: 'chat', arguments: { message: 'via mcp' } })) as {
        content: Array<{ text: string }>
        isError?: boolean
      }
      expect(r.isError).toBeFalsy()
      expect(JSON.parse(r.content[0]?.text ?? '{}')).toMatchObject({ reply: 'echo: via mcp' })
    } finally {
      await mcp.close()
    }
  }, 120_000)
})
