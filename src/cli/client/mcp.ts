import { createServer, type IncomingMessage } from 'node:http'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { readBody } from '../../lib/http-body.js'
import { VERSION } from '../../version.js'
import type { Command, Ctx } from './command.js'
import { Api } from './http.js'
import { registerTools } from './mcp-tools.js'

const OPTIONS = {
  http: { type: 'boolean' },
  port: { type: 'string' },
  host: { type: 'string' },
} as const

function mcpServer(api: Api): McpServer {
  const server = new McpServer({ name: 'clawport', version: VERSION })
  registerTools(server, api)
  return server
}

/** A bearer key on the MCP request itself wins over the one `clawport mcp` was started with. */
function apiFor(base: Api, req: IncomingMessage): Api {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')
  return m ? new Api({ ...base.conn, apiKey: m[1] as string }) : base
}

/** Most bytes of one JSON-RPC request. */
const MAX_BODY_BYTES = 16 * 1024 * 1024

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req, MAX_BODY_BYTES, () => new Error('The request body is too large.'))
  const text = body.toString('utf8')
  return text ? JSON.parse(text) : undefined
}

/**
 * `clawport mcp`: an MCP server exposing the instance tools, over stdio (default) or, with
 * --http, streamable HTTP at /mcp (stateless: one server per request).
 */
async function run(ctx: Ctx<typeof OPTIONS>): Promise<number> {
  if (!ctx.flags.http) {
    const transport = new StdioServerTransport()
    await mcpServer(ctx.api).connect(transport)
    await new Promise<void>((resolve) => {
      transport.onclose = resolve
      process.stdin.once('end', resolve)
    })
    return 0
  }
  const host = ctx.flags.host ?? '127.0.0.1'
  const http = createServer(async (req, res) => {
    if (!req.url?.startsWith('/mcp')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"MCP is at /mcp"}')
      return
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { 'content-type': 'application/json', allow: 'POST' })
      res.end('{"message":"This MCP server is stateless: POST JSON-RPC to /mcp"}')
      return
    }
    try {
      const body = await readJson(req)
      const server = mcpServer(apiFor(ctx.api, req))
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
      res.once('close', () => {
        void transport.close()
        void server.close()
      })
      await server.connect(transport)
      await transport.handleRequest(req, res, body)
    } catch (err) {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ message: (err as Error).message }))
    }
  })
  await new Promise<void>((resolve) => http.listen(Number(ctx.flags.port ?? 8090), host, resolve))
  const address = http.address()
  const port = typeof address === 'object' && address ? address.port : ctx.flags.port
  process.stdout.write(`clawport mcp http://${host}:${port}/mcp ready\n`)
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  http.close()
  return 0
}

export const command: Command<typeof OPTIONS> = {
  usage: '  clawport mcp [--http --port N]          an MCP server (stdio, or streamable HTTP)',
  options: OPTIONS,
  run,
}
