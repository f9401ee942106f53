#!/usr/bin/env node
// Clawport client for agents: no dependencies, Node 18 or newer. Prints JSON; on an error it
// prints `HTTP <status>: <message>` to stderr and exits non-zero.
// Configuration: OPENCLAW_API_KEY (required), OPENCLAW_API_BASE_URL, OPENCLAW_INSTANCE_ID.

// Bundled with the SDK into dist/skills/clawport/clawport.mjs (`npm run build:skill`, see
// rolldown.config.ts), served in the skill bundle with `{{ORIGIN}}` filled in (src/http/docs/skill.ts).
import { lstat, readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { Clawport, ClawportError } from '@clawport/sdk/source'

const SERVED_FROM = '{{ORIGIN}}'
const USAGE = `Usage: node clawport.mjs <command> [options]

  root                                   what the server offers (no key needed)
  instances list
  instances create [--name N] [--invite-code C] [--network public|allowlist|off] [--allow-hosts H,H] [--wait]
  instances events [--after CURSOR]      status history with reasons (crashes, OOM kills)
  instances logs [--source clawlet|gateway|desktop|boot] [--tail N]   the instance's own logs
  instances metrics                      CPU, memory, disk, processes, network right now
  channels list                          the instance's chat channels (Telegram) and their state
  channels set telegram --token T [--dm-policy pairing|allowlist|open|disabled]   applies at the next start
  channels pairing telegram              DM pairing requests waiting for approval
  channels approve telegram <request-id>
  chat sessions                          list the instance's chat sessions
  chat new [--title T]                   create a session
  chat send <message> [--session S] [--stream]
  chat tail [--session S] [--limit N]    the last messages
  files list [path]
  files read <path>
  files write <path> [content]           content from the argument or stdin
  files mkdir <path>
  files upload-tree <local-dir> [--to /workspace/dir] [--max-bytes N]
  exec <command> [--timeout-ms N]

Options: --instance ID (else OPENCLAW_INSTANCE_ID, else the first ready instance)`

type Opts = Record<string, string | true | undefined>
type CreateBody = NonNullable<Parameters<Clawport['instances']['create']>[0]>
type LogsQuery = NonNullable<Parameters<Clawport['instances']['logs']>[1]>
type ChannelBody = Parameters<Clawport['channels']['put']>[2]

/** A mistake in the command line (or the setup): printed as it is, exit code 2. */
class UsageError extends Error {}

/** The SDK at OPENCLAW_API_BASE_URL, else the origin this script was served from. */
function client(): Clawport {
  const base = process.env.OPENCLAW_API_BASE_URL || (SERVED_FROM.startsWith('{{') ? '' : SERVED_FROM)
  if (!base) throw new UsageError('Set OPENCLAW_API_BASE_URL (e.g. https://host/api).')
  const apiKey = process.env.OPENCLAW_API_KEY
  return new Clawport({ baseUrl: base, ...(apiKey ? { apiKey } : {}) })
}

function parse(argv: string[]): { args: string[]; opts: Opts } {
  const args: string[] = []
  const opts: Opts = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (!a.startsWith('--')) args.push(a)
    else if (a === '--stream' || a === '--wait') opts[a.slice(2)] = true
    else opts[a.slice(2)] = argv[++i]
  }
  return { args, opts }
}

/** A string option's value (a flag given without one counts as absent). */
const str = (opts: Opts, name: string): string | undefined => {
  const v = opts[name]
  return typeof v === 'string' && v !== '' ? v : undefined
}

async function instanceId(api: Clawport, opts: Opts): Promise<string> {
  const id = str(opts, 'instance') || process.env.OPENCLAW_INSTANCE_ID
  if (id) return id
  // A sleeping instance wakes for whatever needs its agent: better than none.
  const ready = await api.instances.findReady()
  if (!ready)
    throw new ClawportError(
      409,
      'No ready instance; create one with: node clawport.mjs instances create --wait',
    )
  return ready.id
}

/** Streams a turn: one JSON line per server-sent event. */
async function streamTurn(
  api: Clawport,
  inst: string,
  message: string,
  sessionId?: string,
): Promise<undefined> {
  let failed: { code?: string; message?: string } | undefined
  for await (const e of api.chat.stream(inst, message, sessionId ? { sessionId } : {})) {
    if (e.data === '') continue
    if (e.event === 'error') failed = e.data
    process.stdout.write(`${JSON.stringify({ id: e.id, event: e.event, data: e.data })}\n`)
  }
  if (failed) throw new ClawportError(502, `${failed.code}: ${failed.message}`)
  return undefined
}

const TEXT_DECODER = new TextDecoder('utf-8', { fatal: true })
function isText(bytes: Buffer): boolean {
  if (bytes.includes(0)) return false
  try {
    TEXT_DECODER.decode(bytes)
    return true
  } catch {
    return false
  }
}

type Skipped = { path: string; reason: 'ignored' | 'not_a_file' | 'too_large' | 'binary'; size?: number }

/** Uploads the text files of a local folder; reports what was uploaded and what was skipped. */
async function uploadTree(api: Clawport, inst: string, localDir: string, opts: Opts) {
  const target = (str(opts, 'to') || `/workspace/${path.basename(path.resolve(localDir))}`).replace(
    /\/+$/,
    '',
  )
  const maxBytes = Number(str(opts, 'max-bytes') || 1024 * 1024)
  const uploaded: Array<{ path: string; size: number }> = []
  const skipped: Skipped[] = []
  async function walk(rel: string): Promise<void> {
    const entries = await readdir(path.join(localDir, rel), { withFileTypes: true })
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const r = rel ? `${rel}/${entry.name}` : entry.name
      if (entry.isDirectory()) {
        if (entry.name === '.git' || entry.name === 'node_modules')
          skipped.push({ path: r, reason: 'ignored' })
        else await walk(r)
        continue
      }
      const info = await lstat(path.join(localDir, r))
      if (!info.isFile()) skipped.push({ path: r, reason: 'not_a_file' })
      else if (info.size > maxBytes) skipped.push({ path: r, reason: 'too_large', size: info.size })
      else {
        const bytes = await readFile(path.join(localDir, r))
        if (!isText(bytes)) skipped.push({ path: r, reason: 'binary', size: info.size })
        else {
          const res = await api.files.write(inst, `${target}/${r}`, bytes.toString('utf8'))
          uploaded.push({ path: res.path, size: res.size })
        }
      }
    }
  }
  await api.files.mkdir(inst, target)
  await walk('')
  return { target, max_bytes: maxBytes, uploaded, skipped }
}

async function stdinText(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** What a command gets: the SDK, its words after the command, its options, its instance. */
interface Call {
  api: Clawport
  rest: string[]
  opts: Opts
  inst: () => Promise<string>
}

const need = <T>(v: T | undefined, what: string): T => {
  if (v === undefined) throw new UsageError(`missing ${what}\n\n${USAGE}`)
  return v
}

const COMMANDS: Record<string, (c: Call) => Promise<unknown>> = {
  root: ({ api }) => api.request('get', '/api'),
  'instances list': ({ api }) => api.instances.list(),
  'instances create': async ({ api, opts }) => {
    const hosts = opts['allow-hosts']
    const created = await api.instances.create({
      ...(str(opts, 'name') ? { name: str(opts, 'name') } : {}),
      ...(str(opts, 'invite-code') ? { invite_code: str(opts, 'invite-code') } : {}),
      ...(str(opts, 'network') ? { network: str(opts, 'network') as CreateBody['network'] } : {}),
      ...(typeof hosts === 'string'
        ? {
            allowed_hosts: hosts
              .split(',')
              .map((h) => h.trim())
              .filter(Boolean),
          }
        : {}),
    })
    return opts.wait ? waitReady(api, created.id) : created
  },
  'instances events': async ({ api, opts, inst }) =>
    api.instances.events(await inst(), { after: Number(str(opts, 'after') || 0) }),
  'instances logs': async ({ api, opts, inst }) =>
    api.instances.logs(await inst(), {
      source: (str(opts, 'source') || 'clawlet') as LogsQuery['source'],
      tail: Number(str(opts, 'tail') || 200),
    }),
  'instances metrics': async ({ api, inst }) => api.instances.metrics(await inst()),
  'channels list': async ({ api, inst }) => api.channels.list(await inst()),
  'channels set': async ({ api, rest, opts, inst }) =>
    api.channels.put(await inst(), need(rest[0], 'channel'), {
      ...(str(opts, 'token') ? { bot_token: str(opts, 'token') } : {}),
      ...(str(opts, 'dm-policy') ? { dm_policy: str(opts, 'dm-policy') } : {}),
    } as ChannelBody),
  'channels pairing': async ({ api, rest, inst }) =>
    api.channels.pairing(await inst(), need(rest[0], 'channel')),
  'channels approve': async ({ api, rest, inst }) => {
    const [channel, request] = [need(rest[0], 'channel'), need(rest[1], 'request id')]
    await api.channels.approve(await inst(), channel, request)
    return { approved: request }
  },
  'chat sessions': async ({ api, inst }) => api.chat.sessions(await inst()),
  'chat new': async ({ api, opts, inst }) => api.chat.createSession(await inst(), str(opts, 'title')),
  'chat send': async ({ api, rest, opts, inst }) => {
    const message = need(rest.join(' ') || undefined, 'message')
    const id = await inst()
    const session = str(opts, 'session')
    return opts.stream ? streamTurn(api, id, message, session) : api.chat.send(id, message, session)
  },
  'chat tail': async ({ api, opts, inst }) =>
    api.chat.messages(await inst(), {
      tail: 'true',
      limit: Number(str(opts, 'limit') || 20),
      ...(str(opts, 'session') ? { session_id: str(opts, 'session') } : {}),
    }),
  'files list': async ({ api, rest, inst }) => api.files.list(await inst(), rest[0] || undefined),
  'files read': async ({ api, rest, inst }) => api.files.read(await inst(), need(rest[0], 'path')),
  'files write': async ({ api, rest, inst }) => {
    const content = rest.length > 1 ? rest.slice(1).join(' ') : await stdinText()
    return api.files.write(await inst(), need(rest[0], 'path'), content)
  },
  'files mkdir': async ({ api, rest, inst }) => api.files.mkdir(await inst(), need(rest[0], 'path')),
  'files upload-tree': async ({ api, rest, opts, inst }) =>
    uploadTree(api, await inst(), need(rest[0], 'local folder'), opts),
  exec: async ({ api, rest, opts, inst }) => {
    const command = need(rest.join(' ') || undefined, 'command')
    const timeout = str(opts, 'timeout-ms')
    return api.terminal.exec(await inst(), command, timeout ? { timeout_ms: Number(timeout) } : {})
  },
}

/** Polls until the instance is ready, however long its first start takes (no deadline). */
async function waitReady(api: Clawport, id: string) {
  for (;;) {
    const inst = await api.instances.get(id)
    if (inst.status === 'ready') return inst
    if (inst.status === 'error')
      throw new ClawportError(409, `Instance ${id} failed: ${inst.error ?? 'error'}`)
    await new Promise((r) => setTimeout(r, 1000))
  }
}

async function run(argv: string[]): Promise<unknown> {
  const { args, opts } = parse(argv)
  const [group, sub, ...rest] = args
  const whole = group === 'root' || group === 'exec'
  const command = COMMANDS[whole ? `${group}` : `${group} ${sub}`]
  if (!command) throw new UsageError(group ? `unknown command "${args.join(' ')}"\n\n${USAGE}` : USAGE)
  const api = client()
  const words = whole ? [sub, ...rest].filter((v) => v !== undefined) : rest
  return command({ api, rest: words, opts, inst: () => instanceId(api, opts) })
}

run(process.argv.slice(2)).then(
  (out) => {
    if (out !== undefined) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
  },
  (err: unknown) => {
    if (err instanceof UsageError) process.stderr.write(`${err.message}\n`)
    else if (err instanceof ClawportError) process.stderr.write(`HTTP ${err.status}: ${err.message}\n`)
    else process.stderr.write(`${(err as Error)?.message ?? err}\n`)
    process.exitCode = err instanceof UsageError ? 2 : 1
  },
)
