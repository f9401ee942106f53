#!/usr/bin/env node
// The `clawport` skill's helper: this instance's door to the Clawport API (no key needed).
// Usage: node clawport.mjs <command> [args...]   (run with no command for help)
//
// Built to dist/clawlet/skill/clawport-helper.js and written into every workspace as
// skills/clawport/clawport.mjs (see ../clawport-skill.ts): it runs there with plain `node`, so it
// imports nothing but Node's own modules, and the shapes below are the door's answers as it reads them.
import { readFile, writeFile } from 'node:fs/promises'

interface Member {
  id: string
  name: string | null
  status: string
  role?: string | null
}
interface Self {
  instance: Member
  swarm: { id: string } | null
  siblings: Member[]
}
interface Reply {
  status: string
  reply?: string | null
  error?: string | null
}

// A process of its own, started by the agent: the door's address is in the instance's environment.
const API = (process.env.CLAWPORT_API_URL || 'http://127.0.0.1:18790/api').replace(/\/$/, '')
const HELP = [
  'commands:',
  '  whoami                          this instance, its swarm and role',
  '  siblings                        the instances this one can reach',
  "  ask <instance> <message>        chat with another instance's agent and print its answer",
  '  send <instance> <message>       queue a message in its inbox (the reply comes to this inbox)',
  '  wait <instance> <message_id>    wait for the reply to a sent message',
  '  exec <instance> <command>       run a shell command there; prints its output',
  '  put <instance> <file> [path]    copy a local file there (default: same path)',
  '  get <instance> <path> [file]    copy a file from there to here',
  '  broadcast <message>             ask every member of this swarm, print every answer',
  '<instance> is an id or a name from "siblings".',
].join('\n')

/** One call through the door; an answer that is not 2xx throws `<status> <code>: <message>`. */
async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(API + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  const data = text ? JSON.parse(text) : null
  if (!res.ok) throw new Error(`${res.status} ${data?.code ?? ''}: ${data?.message ?? text}`)
  return data as T
}

/** An instance's id from its id or name; a ref that matches none is passed on as an id. */
async function resolve(ref: string | undefined): Promise<string> {
  if (!ref) throw new Error('name an instance (see "siblings")')
  const self = await call<Self>('GET', '/self')
  const all = [self.instance, ...self.siblings]
  const hit = all.find((i) => i.id === ref || i.name === ref)
  return hit ? hit.id : ref
}

const [cmd, ...args] = process.argv.slice(2)
const rest = (n: number) => args.slice(n).join(' ')
const out = (v: unknown) =>
  process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}\n`)

try {
  switch (cmd) {
    case 'whoami':
      out(await call('GET', '/self'))
      break
    case 'siblings': {
      const self = await call<Self>('GET', '/self')
      for (const i of self.siblings)
        out(`${i.id}  ${i.name ?? '-'}  ${i.status}${i.role ? `  role: ${i.role}` : ''}`)
      if (self.siblings.length === 0) out('(no other instances)')
      break
    }
    case 'ask': {
      const id = await resolve(args[0])
      // One session per asking instance, so asks never land in the target's other conversations.
      const me = (await call<Self>('GET', '/self')).instance.id
      const title = `From instance ${me}`
      const sessions = await call<Array<{ id: string; title: string | null }>>(
        'GET',
        `/instances/${id}/chat/sessions`,
      )
      const session =
        sessions.find((x) => x.title === title) ??
        (await call<{ id: string }>('POST', `/instances/${id}/chat/sessions`, { title }))
      const r = await call<{ message: { content: string } }>('POST', `/instances/${id}/chat`, {
        message: rest(1),
        session_id: session.id,
      })
      out(r.message.content)
      break
    }
    case 'send': {
      const id = await resolve(args[0])
      const r = await call<{ id: string }>('POST', `/instances/${id}/inbox`, { message: rest(1) })
      out(`queued ${r.id}`)
      break
    }
    case 'wait': {
      const id = await resolve(args[0])
      const r = await call<Reply>('GET', `/instances/${id}/inbox/${args[1]}?wait_ms=120000`)
      out(r.status === 'replied' ? r.reply : `${r.status}${r.error ? `: ${r.error}` : ''}`)
      break
    }
    case 'exec': {
      const id = await resolve(args[0])
      const r = await call<{ stdout: string; stderr: string; exit_code: number | null }>(
        'POST',
        `/instances/${id}/terminal/exec`,
        { command: rest(1) },
      )
      process.stdout.write(r.stdout)
      process.stderr.write(r.stderr)
      process.exitCode = r.exit_code ?? 1
      break
    }
    case 'put': {
      const id = await resolve(args[0])
      const file = args[1] as string
      const content = (await readFile(file)).toString('base64')
      const r = await call<{ path: string; size: number }>('POST', `/instances/${id}/files/write`, {
        path: args[2] ?? file,
        content,
        encoding: 'base64',
      })
      out(`wrote ${r.path} (${r.size} bytes)`)
      break
    }
    case 'get': {
      const id = await resolve(args[0])
      const file = args[1] as string
      const r = await call<{ content: string; encoding: string; size: number }>(
        'GET',
        `/instances/${id}/files/read?path=${encodeURIComponent(file)}`,
      )
      await writeFile(args[2] ?? file, Buffer.from(r.content, r.encoding === 'base64' ? 'base64' : 'utf8'))
      out(`saved ${args[2] ?? file} (${r.size} bytes)`)
      break
    }
    case 'broadcast': {
      const self = await call<Self>('GET', '/self')
      if (!self.swarm) throw new Error('this instance is not in a swarm')
      const r = await call<{ results: Array<{ instance_id: string } & Reply> }>(
        'POST',
        `/swarms/${self.swarm.id}/broadcast`,
        { message: rest(0) },
      )
      for (const m of r.results) out(`${m.instance_id}: ${m.status === 'replied' ? m.reply : m.error}`)
      break
    }
    default:
      out(HELP)
  }
} catch (err) {
  process.stderr.write(`clawport: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
}
