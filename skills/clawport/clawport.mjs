#!/usr/bin/env node
// Clawport client for agents: no dependencies, Node 18 or newer. Prints JSON; on an error it
// prints `HTTP <status>: <message>` to stderr and exits non-zero.
// Configuration: OPENCLAW_API_KEY (required), OPENCLAW_API_BASE_URL, OPENCLAW_INSTANCE_ID.
import { readdir, readFile, lstat } from 'node:fs/promises'
import path from 'node:path'

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

class HttpError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

function baseUrl() {
  let base = process.env.OPENCLAW_API_BASE_URL || (SERVED_FROM.startsWith('{{') ? '' : SERVED_FROM)
  if (!base) throw new HttpError(0, 'Set OPENCLAW_API_BASE_URL (e.g. https://host/api).')
  base = base.replace(/\/+$/, '')
  return base.endsWith('/api') ? base : `${base}/api`
}

async function call(method, p, body, { raw = false } = {}) {
  const headers = {}
  const key = process.env.OPENCLAW_API_KEY
  if (key) headers.authorization = `Bearer ${key}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(baseUrl() + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  if (!res.ok) {
    const text = await res.text()
    let message = text || res.statusText
    try {
      message = JSON.parse(text).message ?? message
    } catch {}
    throw new HttpError(res.status, message)
  }
  if (raw) return res
  if (res.status === 204) return null
  return res.json()
}

function parse(argv) {
  const args = []
  const opts = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) args.push(a)
    else if (['--stream', '--wait'].includes(a)) opts[a.slice(2)] = true
    else opts[a.slice(2)] = argv[++i]
  }
  return { args, opts }
}

async function instanceId(opts) {
  const id = opts.instance || process.env.OPENCLAW_INSTANCE_ID
  if (id) return id
  const list = await call('GET', '/instances')
  // A sleeping instance wakes for whatever needs its agent: better than none.
  const ready = list.find((i) => i.status === 'ready') ?? list.find((i) => i.status === 'sleeping')
  if (!ready) throw new HttpError(409, 'No ready instance; create one with: node clawport.mjs instances create --wait')
  return ready.id
}

async function waitReady(id) {
  for (;;) {
    const inst = await call('GET', `/instances/${id}`)
    if (inst.status === 'ready') return inst
    if (inst.status === 'error') throw new HttpError(409, `Instance ${id} failed: ${inst.error ?? 'error'}`)
    await new Promise((r) => setTimeout(r, 1000))
  }
}

/** Streams a turn: one JSON line per server-sent event. */
async function streamTurn(inst, body) {
  const res = await call('POST', `/instances/${inst}/chat/stream`, body, { raw: true })
  const decoder = new TextDecoder()
  let buf = ''
  let failed
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n')
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const block = buf.slice(0, i)
      buf = buf.slice(i + 2)
      const e = { id: undefined, event: 'message', data: '' }
      for (const line of block.split('\n')) {
        if (line.startsWith('id:')) e.id = Number(line.slice(3).trim())
        else if (line.startsWith('event:')) e.event = line.slice(6).trim()
        else if (line.startsWith('data:')) e.data += line.slice(5).trim()
      }
      if (!e.data) continue
      e.data = JSON.parse(e.data)
      if (e.event === 'error') failed = e.data
      process.stdout.write(`${JSON.stringify(e)}\n`)
    }
  }
  if (failed) throw new HttpError(502, `${failed.code}: ${failed.message}`)
  return undefined
}

const TEXT_DECODER = new TextDecoder('utf-8', { fatal: true })
function isText(bytes) {
  if (bytes.includes(0)) return false
  try {
    TEXT_DECODER.decode(bytes)
    return true
  } catch {
    return false
  }
}

/** Uploads the text files of a local folder; reports what was uploaded and what was skipped. */
async function uploadTree(inst, localDir, opts) {
  const target = (opts.to || `/workspace/${path.basename(path.resolve(localDir))}`).replace(/\/+$/, '')
  const maxBytes = Number(opts['max-bytes'] || 1024 * 1024)
  const uploaded = []
  const skipped = []
  async function walk(rel) {
    for (const entry of (await readdir(path.join(localDir, rel), { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const r = rel ? `${rel}/${entry.name}` : entry.name
      if (entry.isDirectory()) {
        if (entry.name === '.git' || entry.name === 'node_modules') skipped.push({ path: r, reason: 'ignored' })
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
          const res = await call('POST', `/instances/${inst}/files/write`, {
            path: `${target}/${r}`,
            content: bytes.toString('utf8'),
          })
          uploaded.push({ path: res.path, size: res.size })
        }
      }
    }
  }
  await call('POST', `/instances/${inst}/files/mkdir`, { path: target })
  await walk('')
  return { target, max_bytes: maxBytes, uploaded, skipped }
}

async function stdinText() {
  const chunks = []
  for await (const c of process.stdin) chunks.push(c)
  return Buffer.concat(chunks).toString('utf8')
}

async function run(argv) {
  const { args, opts } = parse(argv)
  const [group, sub, ...rest] = args
  const q = (v) => encodeURIComponent(v)
  const need = (v, what) => {
    if (v === undefined) throw new HttpError(0, `missing ${what}\n\n${USAGE}`)
    return v
  }
  switch (`${group} ${group === 'root' || group === 'exec' ? '' : sub}`.trim()) {
    case 'root':
      return call('GET', '')
    case 'instances list':
      return call('GET', '/instances')
    case 'instances create': {
      const inst = await call('POST', '/instances', {
        ...(opts.name ? { name: opts.name } : {}),
        ...(opts['invite-code'] ? { invite_code: opts['invite-code'] } : {}),
        ...(opts.network ? { network: opts.network } : {}),
        ...(opts['allow-hosts'] !== undefined
          ? { allowed_hosts: opts['allow-hosts'].split(',').map((h) => h.trim()).filter(Boolean) }
          : {}),
      })
      return opts.wait ? waitReady(inst.id) : inst
    }
    case 'instances events':
      return call('GET', `/instances/${await instanceId(opts)}/events?after=${q(opts.after || '0')}`)
    case 'instances logs':
      return call(
        'GET',
        `/instances/${await instanceId(opts)}/logs?source=${q(opts.source || 'clawlet')}&tail=${q(opts.tail || '200')}`,
      )
    case 'instances metrics':
      return call('GET', `/instances/${await instanceId(opts)}/metrics`)
    case 'channels list':
      return call('GET', `/instances/${await instanceId(opts)}/channels`)
    case 'channels set':
      return call('PUT', `/instances/${await instanceId(opts)}/channels/${q(need(rest[0], 'channel'))}`, {
        ...(opts.token ? { bot_token: opts.token } : {}),
        ...(opts['dm-policy'] ? { dm_policy: opts['dm-policy'] } : {}),
      })
    case 'channels pairing':
      return call('GET', `/instances/${await instanceId(opts)}/channels/${q(need(rest[0], 'channel'))}/pairing`)
    case 'channels approve': {
      const path = `/channels/${q(need(rest[0], 'channel'))}/pairing/${q(need(rest[1], 'request id'))}/approve`
      await call('POST', `/instances/${await instanceId(opts)}${path}`)
      return { approved: rest[1] }
    }
    case 'chat sessions':
      return call('GET', `/instances/${await instanceId(opts)}/chat/sessions`)
    case 'chat new':
      return call('POST', `/instances/${await instanceId(opts)}/chat/sessions`, opts.title ? { title: opts.title } : {})
    case 'chat send': {
      const body = { message: need(rest.join(' ') || undefined, 'message'), ...(opts.session ? { session_id: opts.session } : {}) }
      const inst = await instanceId(opts)
      return opts.stream ? streamTurn(inst, body) : call('POST', `/instances/${inst}/chat`, body)
    }
    case 'chat tail': {
      const query = `tail=true&limit=${q(opts.limit || 20)}${opts.session ? `&session_id=${q(opts.session)}` : ''}`
      return call('GET', `/instances/${await instanceId(opts)}/chat/messages?${query}`)
    }
    case 'files list':
      return call('GET', `/instances/${await instanceId(opts)}/files${rest[0] ? `?path=${q(rest[0])}` : ''}`)
    case 'files read':
      return call('GET', `/instances/${await instanceId(opts)}/files/read?path=${q(need(rest[0], 'path'))}`)
    case 'files write': {
      const content = rest.length > 1 ? rest.slice(1).join(' ') : await stdinText()
      return call('POST', `/instances/${await instanceId(opts)}/files/write`, { path: need(rest[0], 'path'), content })
    }
    case 'files mkdir':
      return call('POST', `/instances/${await instanceId(opts)}/files/mkdir`, { path: need(rest[0], 'path') })
    case 'files upload-tree':
      return uploadTree(await instanceId(opts), need(rest[0], 'local folder'), opts)
    case 'exec': {
      const command = need([sub, ...rest].filter((v) => v !== undefined).join(' ') || undefined, 'command')
      return call('POST', `/instances/${await instanceId(opts)}/terminal/exec`, {
        command,
        ...(opts['timeout-ms'] ? { timeout_ms: Number(opts['timeout-ms']) } : {}),
      })
    }
    default:
      throw new HttpError(0, group ? `unknown command "${args.join(' ')}"\n\n${USAGE}` : USAGE)
  }
}

run(process.argv.slice(2)).then(
  (out) => {
    if (out !== undefined) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
  },
  (err) => {
    if (err instanceof HttpError && err.status === 0) process.stderr.write(`${err.message}\n`)
    else if (err instanceof HttpError) process.stderr.write(`HTTP ${err.status}: ${err.message}\n`)
    else process.stderr.write(`${err?.message ?? err}\n`)
    process.exitCode = err instanceof HttpError && err.status === 0 ? 2 : 1
  },
)
