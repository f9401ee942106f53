import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'

/**
 * The `clawport` skill every instance's agent gets: a SKILL.md and a small Node helper, written
 * into `<workspace>/skills/clawport/`, where OpenClaw loads workspace skills from. The helper
 * talks to the instance's door (`CLAWPORT_API_URL`), so it needs no key.
 */
export const SKILL_DIR = 'skills/clawport'

export const SKILL_MD = `---
name: clawport
description: Work with the other OpenClaw instances of this Clawport account or swarm - list them, ask their agents, send inbox messages, run commands and pass files there.
---

# Clawport: your sibling instances

This instance runs on Clawport. Through \`$CLAWPORT_API_URL\` (http://127.0.0.1:18790/api) you
can reach the other instances of the same owner - or only the members of your swarm, if you
belong to one. No key is needed: Clawport knows which instance is calling, and everything you
send is recorded as coming from this instance.

Use the helper with the exec tool:

\`\`\`sh
node /workspace/skills/clawport/clawport.mjs whoami                 # this instance, swarm, role
node /workspace/skills/clawport/clawport.mjs siblings               # id, name, status, role
node /workspace/skills/clawport/clawport.mjs ask <instance> "question"   # waits for the answer
node /workspace/skills/clawport/clawport.mjs send <instance> "message"   # inbox, reply comes back later
node /workspace/skills/clawport/clawport.mjs wait <instance> <message_id>
node /workspace/skills/clawport/clawport.mjs exec <instance> "ls -la"
node /workspace/skills/clawport/clawport.mjs put <instance> ./report.md /workspace/report.md
node /workspace/skills/clawport/clawport.mjs get <instance> /workspace/out.txt ./out.txt
node /workspace/skills/clawport/clawport.mjs broadcast "message to the whole swarm"
\`\`\`

\`<instance>\` is an id or a name shown by \`siblings\`.

- Ask (\`ask\`) when you need the answer now; the other agent runs a full turn, so keep questions
  self-contained, and give the exec call a long \`yieldMs\` (e.g. 300000) so it waits for the
  answer instead of moving to the background.
- Send (\`send\`) for work that can come back later: the reply arrives in your own inbox as a
  new message starting with \`[Reply from instance ...]\`.
- Messages you receive from other instances start with \`[Message from instance ...]\`; your
  answer is sent back to them automatically.
- \`exec\`, \`put\` and \`get\` act on the other instance directly, without its agent.
- The same API is plain HTTP if you prefer \`curl "$CLAWPORT_API_URL/self"\`; keys, the account
  and billing are not reachable from here.
`

export const HELPER_MJS = `#!/usr/bin/env node
// The \`clawport\` skill's helper: this instance's door to the Clawport API (no key needed).
// Usage: node clawport.mjs <command> [args...]   (run with no command for help)
import { readFile, writeFile } from 'node:fs/promises'

const API = (process.env.CLAWPORT_API_URL || 'http://127.0.0.1:18790/api').replace(/\\/$/, '')
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
].join('\\n')

async function call(method, path, body) {
  const res = await fetch(API + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  const data = text ? JSON.parse(text) : null
  if (!res.ok) throw new Error(\`\${res.status} \${data?.code ?? ''}: \${data?.message ?? text}\`)
  return data
}

async function resolve(ref) {
  if (!ref) throw new Error('name an instance (see "siblings")')
  const self = await call('GET', '/self')
  const all = [self.instance, ...self.siblings]
  const hit = all.find((i) => i.id === ref || i.name === ref)
  return hit ? hit.id : ref
}

const [cmd, ...args] = process.argv.slice(2)
const rest = (n) => args.slice(n).join(' ')
const out = (v) => process.stdout.write(\`\${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}\\n\`)

try {
  switch (cmd) {
    case 'whoami':
      out(await call('GET', '/self'))
      break
    case 'siblings': {
      const self = await call('GET', '/self')
      for (const i of self.siblings)
        out(\`\${i.id}  \${i.name ?? '-'}  \${i.status}\${i.role ? \`  role: \${i.role}\` : ''}\`)
      if (self.siblings.length === 0) out('(no other instances)')
      break
    }
    case 'ask': {
      const id = await resolve(args[0])
      // One session per asking instance, so asks never land in the target's other conversations.
      const me = (await call('GET', '/self')).instance.id
      const title = 'From instance ' + me
      const sessions = await call('GET', \`/instances/\${id}/chat/sessions\`)
      const session =
        sessions.find((x) => x.title === title) ?? (await call('POST', \`/instances/\${id}/chat/sessions\`, { title }))
      const r = await call('POST', \`/instances/\${id}/chat\`, { message: rest(1), session_id: session.id })
      out(r.message.content)
      break
    }
    case 'send': {
      const id = await resolve(args[0])
      const r = await call('POST', \`/instances/\${id}/inbox\`, { message: rest(1) })
      out(\`queued \${r.id}\`)
      break
    }
    case 'wait': {
      const id = await resolve(args[0])
      const r = await call('GET', \`/instances/\${id}/inbox/\${args[1]}?wait_ms=120000\`)
      out(r.status === 'replied' ? r.reply : \`\${r.status}\${r.error ? \`: \${r.error}\` : ''}\`)
      break
    }
    case 'exec': {
      const id = await resolve(args[0])
      const r = await call('POST', \`/instances/\${id}/terminal/exec\`, { command: rest(1) })
      process.stdout.write(r.stdout)
      process.stderr.write(r.stderr)
      process.exitCode = r.exit_code ?? 1
      break
    }
    case 'put': {
      const id = await resolve(args[0])
      const content = (await readFile(args[1])).toString('base64')
      const r = await call('POST', \`/instances/\${id}/files/write\`, {
        path: args[2] ?? args[1],
        content,
        encoding: 'base64',
      })
      out(\`wrote \${r.path} (\${r.size} bytes)\`)
      break
    }
    case 'get': {
      const id = await resolve(args[0])
      const r = await call('GET', \`/instances/\${id}/files/read?path=\${encodeURIComponent(args[1])}\`)
      await writeFile(args[2] ?? args[1], Buffer.from(r.content, r.encoding === 'base64' ? 'base64' : 'utf8'))
      out(\`saved \${args[2] ?? args[1]} (\${r.size} bytes)\`)
      break
    }
    case 'broadcast': {
      const self = await call('GET', '/self')
      if (!self.swarm) throw new Error('this instance is not in a swarm')
      const r = await call('POST', \`/swarms/\${self.swarm.id}/broadcast\`, { message: rest(0) })
      for (const m of r.results) out(\`\${m.instance_id}: \${m.status === 'replied' ? m.reply : m.error}\`)
      break
    }
    default:
      out(HELP)
  }
} catch (err) {
  process.stderr.write(\`clawport: \${err.message}\\n\`)
  process.exitCode = 1
}
`

/** Writes (or refreshes) the skill in the workspace; files the same as ours are left untouched. */
export async function installClawportSkill(workspace: string): Promise<void> {
  const dir = path.join(workspace, SKILL_DIR)
  await mkdir(dir, { recursive: true })
  for (const [name, content, mode] of [
    ['SKILL.md', SKILL_MD, 0o644],
    ['clawport.mjs', HELPER_MJS, 0o755],
  ] as const) {
    const file = path.join(dir, name)
    const current = await readFile(file, 'utf8').catch(() => undefined)
    if (current !== content) await writeFile(file, content, { mode })
  }
}
