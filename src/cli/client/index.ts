import { UsageError } from '../args.js'
import { type Command, type Ctx, parseFor } from './command.js'
import { Api, ClientError, connectionFrom } from './http.js'

const HEADER = `Client commands (against a server: --base-url URL --api-key KEY, or OPENCLAW_API_BASE_URL,
OPENCLAW_API_KEY; --instance ID or OPENCLAW_INSTANCE_ID, else the first ready instance;
--json for output meant for programs):
`

/** Every client command, loaded only when it runs (or for the whole usage), in usage order. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  instances: async () => (await import('./instances.js')).command,
  webhooks: async () => (await import('./webhooks.js')).command,
  channels: async () => (await import('./channels.js')).command,
  chat: async () => (await import('./chat.js')).command,
  files: async () => (await import('./files.js')).command,
  exec: async () => (await import('./exec.js')).command,
  terminal: async () => (await import('./terminal.js')).command,
  mcp: async () => (await import('./mcp.js')).command,
}

export function isClientCommand(name: string | undefined): boolean {
  return name !== undefined && name in COMMANDS
}

/** The usage of every client command. */
export async function clientUsage(): Promise<string> {
  const commands = await Promise.all(Object.values(COMMANDS).map((load) => load()))
  return [HEADER, ...commands.map((c) => c.usage)].join('\n')
}

/** Runs one client command; server errors print `HTTP <status>: <message>` and exit 1. */
export async function client(name: string, argv: string[]): Promise<number> {
  const load = COMMANDS[name]
  if (!load) throw new UsageError(`unknown command "${name}"`)
  const command = await load()
  const { values: flags, positionals: args } = parseFor<Record<never, never>>(command, argv)
  if (flags.help) {
    process.stdout.write(`${await clientUsage()}\n`)
    return 0
  }
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
    return (await command.run(ctx)) ?? 0
  } catch (err) {
    if (!(err instanceof ClientError)) throw err
    process.stderr.write(err.status ? `HTTP ${err.status}: ${err.message}\n` : `clawport: ${err.message}\n`)
    return 1
  }
}
