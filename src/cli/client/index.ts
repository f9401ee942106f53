import { parseArgs } from 'node:util'
import { UsageError } from '../args.js'
import { Api, ClientError, connectionFrom } from './http.js'

export const CLIENT_USAGE = `Client commands (against a server: --base-url URL --api-key KEY, or OPENCLAW_API_BASE_URL,
OPENCLAW_API_KEY; --instance ID or OPENCLAW_INSTANCE_ID, else the first ready instance;
--json for output meant for programs):

  clawport instances [list|create|get|delete|reboot|shutdown|start] [id] [--wait] [--name N] [--invite-code C]
                    [--network public|allowlist|off] [--allow-hosts pypi.org,*.example.com]
  clawport instances update <id> [--network public|allowlist|off] [--allow-hosts H,H]
                                        while stopped; applies at the next start
  clawport instances sleep|wake <id> [--wait]            stop its agent and desktop until needed; wake it
  clawport instances stop|start --all     every user's instances (an administrator's key), or with
                                          --data-dir D and no server running, stop those of a folder
  clawport instances events <id> [--follow] [--after C]   status history with reasons (crashes, OOM kills)
  clawport instances logs <id> [--source boot|clawlet|gateway|desktop] [--tail N] [--follow]
  clawport instances metrics <id>         CPU, memory, disk, processes, network and gateway right now
  clawport webhooks [list|create <url> [--events a,b]|delete <id>|deliveries <id>]
  clawport channels [list|get <name>|delete <name>]   the instance's chat channels and their state
  clawport channels set telegram --token T|- [--dm-policy pairing|allowlist|open|disabled] [--allow-from ids]
                    [--group-policy P] [--groups ids] [--require-mention true|false]   applies at the next start
  clawport channels pairing telegram | approve|dismiss telegram <request-id>   DM pairing requests
  clawport chat send <message> [--session S] [--no-stream]
  clawport chat sessions [new --title T]
  clawport chat history [--session S] [--limit N]
  clawport files ls [path]
  clawport files read <path>              raw bytes to stdout
  clawport files write <path> [content]   content from the argument or stdin
  clawport files upload <local> [remote]  a file or a folder, recursively
  clawport files download <remote> [local]
  clawport exec <command...> [--timeout-ms N] [--cwd DIR]
  clawport terminal attach [--session S]  an interactive shell; Ctrl-] detaches
  clawport mcp [--http --port N]          an MCP server (stdio, or streamable HTTP)`

/** The flags every client command takes. */
const COMMON = {
  'base-url': { type: 'string' },
  'api-key': { type: 'string' },
  instance: { type: 'string', short: 'i' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  wait: { type: 'boolean' },
  all: { type: 'boolean' },
  'data-dir': { type: 'string' },
  name: { type: 'string' },
  'invite-code': { type: 'string' },
  network: { type: 'string' },
  'allow-hosts': { type: 'string' },
  session: { type: 'string', short: 's' },
  'no-stream': { type: 'boolean' },
  title: { type: 'string' },
  limit: { type: 'string' },
  'timeout-ms': { type: 'string' },
  cwd: { type: 'string' },
  http: { type: 'boolean' },
  port: { type: 'string' },
  host: { type: 'string' },
  url: { type: 'string' },
  events: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  source: { type: 'string' },
  tail: { type: 'string' },
  after: { type: 'string' },
  token: { type: 'string' },
  'dm-policy': { type: 'string' },
  'allow-from': { type: 'string' },
  'group-policy': { type: 'string' },
  groups: { type: 'string' },
  'require-mention': { type: 'string' },
} as const

export type Flags = ReturnType<typeof parse>['values']

/** What a command module gets: the API, its words and flags, and how to print. */
export interface Ctx {
  api: Api
  args: string[]
  flags: Flags
  out(value: unknown, human?: (v: any) => string): void
}

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: COMMON, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

const COMMANDS: Record<string, () => Promise<{ run(ctx: Ctx): Promise<number | undefined> }>> = {
  instances: () => import('./instances.js'),
  chat: () => import('./chat.js'),
  files: () => import('./files.js'),
  exec: () => import('./exec.js'),
  terminal: () => import('./terminal.js'),
  mcp: () => import('./mcp.js'),
  webhooks: () => import('./webhooks.js'),
  channels: () => import('./channels.js'),
}

export function isClientCommand(name: string | undefined): boolean {
  return name !== undefined && name in COMMANDS
}

/** Runs one client command; server errors print `HTTP <status>: <message>` and exit 1. */
export async function client(command: string, argv: string[]): Promise<number> {
  const { values: flags, positionals: args } = parse(argv)
  if (flags.help) {
    process.stdout.write(`${CLIENT_USAGE}\n`)
    return 0
  }
  const load = COMMANDS[command]
  if (!load) throw new UsageError(`unknown command "${command}"`)
  const ctx: Ctx = {
    api: new Api(connectionFrom(flags)),
    args,
    flags,
    out(value, human) {
      if (value === undefined) return
      const text = flags.json || !human ? JSON.stringify(value, null, 2) : human(value)
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
    },
  }
  try {
    return (await (await load()).run(ctx)) ?? 0
  } catch (err) {
    if (!(err instanceof ClientError)) throw err
    process.stderr.write(err.status ? `HTTP ${err.status}: ${err.message}\n` : `clawport: ${err.message}\n`)
    return 1
  }
}
