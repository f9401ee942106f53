import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { z } from 'zod'
import { type Api, ClientError } from './http.js'

type Content = { type: 'text'; text: string } | { type: 'image'; data: string; mimeType: string }
type ToolResult = { content: Content[]; isError?: boolean }

const instanceId = z
  .string()
  .optional()
  .describe('The instance; default: OPENCLAW_INSTANCE_ID, else the first ready instance')

/** Runs a tool body; server errors become an MCP tool error `HTTP <status>: <message>`. */
async function guard(fn: () => Promise<unknown>, isResult = false): Promise<ToolResult> {
  try {
    const value = await fn()
    if (isResult) return value as ToolResult
    return { content: [{ type: 'text', text: JSON.stringify(value, null, 2) }] }
  } catch (err) {
    if (!(err instanceof ClientError)) throw err
    const text = err.status ? `HTTP ${err.status}: ${err.message}` : err.message
    return { content: [{ type: 'text', text }], isError: true }
  }
}

/** Registers the Clawport tools on an MCP server, all acting through `api`. */
export function registerTools(server: McpServer, api: Api): void {
  const inst = (id?: string) => api.instanceId(id)

  server.registerTool(
    'list_instances',
    { description: 'List your OpenClaw instances (id, status, name), newest first.', inputSchema: {} },
    () => guard(() => api.json('GET', '/instances')),
  )

  server.registerTool(
    'create_instance',
    {
      description:
        'Create an OpenClaw instance. Prefer reusing a ready one (list_instances). With wait=true, returns once it is ready.',
      inputSchema: {
        name: z.string().optional(),
        invite_code: z.string().optional().describe('Needed without an active subscription'),
        wait: z.boolean().optional(),
      },
    },
    ({ name, invite_code, wait }) =>
      guard(async () => {
        let i = await api.json('POST', '/instances', {
          body: { ...(name ? { name } : {}), ...(invite_code ? { invite_code } : {}) },
        })
        while (wait && i.status !== 'ready' && i.status !== 'error') {
          await new Promise((r) => setTimeout(r, 500))
          i = await api.json('GET', `/instances/${i.id}`)
        }
        return i
      }),
  )

  server.registerTool(
    'chat',
    {
      description:
        "Send a message to the instance's OpenClaw agent and wait for its answer. Without session_id the most recent session continues.",
      inputSchema: { message: z.string().min(1), session_id: z.string().optional(), instance_id: instanceId },
    },
    ({ message, session_id, instance_id }) =>
      guard(async () => {
        const turn = await api.json('POST', `/instances/${await inst(instance_id)}/chat`, {
          body: { message, ...(session_id ? { session_id } : {}) },
        })
        return { session_id: turn.session_id, reply: turn.message.content, messages: turn.messages.length }
      }),
  )

  server.registerTool(
    'exec',
    {
      description: 'Run a shell command (sh -c) in the instance, in /workspace unless cwd is given.',
      inputSchema: {
        command: z.string().min(1),
        timeout_ms: z.number().int().positive().optional(),
        cwd: z.string().optional(),
        instance_id: instanceId,
      },
    },
    ({ command, timeout_ms, cwd, instance_id }) =>
      guard(async () =>
        api.json('POST', `/instances/${await inst(instance_id)}/terminal/exec`, {
          body: { command, ...(timeout_ms ? { timeout_ms } : {}), ...(cwd ? { cwd } : {}) },
        }),
      ),
  )

  server.registerTool(
    'list_files',
    {
      description: 'List a folder of the instance (default /workspace).',
      inputSchema: { path: z.string().optional(), instance_id: instanceId },
    },
    ({ path, instance_id }) =>
      guard(async () => api.json('GET', `/instances/${await inst(instance_id)}/files`, { query: { path } })),
  )

  server.registerTool(
    'read_file',
    {
      description: 'Read a file of the instance; binary content comes back base64 (see encoding).',
      inputSchema: { path: z.string().min(1), instance_id: instanceId },
    },
    ({ path, instance_id }) =>
      guard(async () =>
        api.json('GET', `/instances/${await inst(instance_id)}/files/read`, { query: { path } }),
      ),
  )

  server.registerTool(
    'write_file',
    {
      description:
        'Write a file in the instance (parent folders are created). Relative paths are under /workspace.',
      inputSchema: {
        path: z.string().min(1),
        content: z.string(),
        encoding: z.enum(['utf8', 'base64']).optional(),
        instance_id: instanceId,
      },
    },
    ({ path, content, encoding, instance_id }) =>
      guard(async () =>
        api.json('POST', `/instances/${await inst(instance_id)}/files/write`, {
          body: { path, content, ...(encoding ? { encoding } : {}) },
        }),
      ),
  )

  server.registerTool(
    'screenshot',
    { description: "A PNG screenshot of the instance's desktop.", inputSchema: { instance_id: instanceId } },
    ({ instance_id }) =>
      guard(async () => {
        const res = await api.fetch('GET', `/instances/${await inst(instance_id)}/desktop/screenshot`)
        const data = Buffer.from(await res.arrayBuffer()).toString('base64')
        return { content: [{ type: 'image', data, mimeType: 'image/png' }] }
      }, true),
  )
}
