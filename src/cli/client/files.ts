import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { UsageError } from '../args.js'
import type { Command, Ctx } from './command.js'
import { download, upload } from './transfer.js'

interface Entry {
  name: string
  type: string
  size: number
  modified_at: string
}

/** `clawport files ls|read|write|upload|download` */
async function run(ctx: Ctx): Promise<number | undefined> {
  const { api, flags } = ctx
  const [action, a, b] = ctx.args
  const need = (v: string | undefined, what: string) => {
    if (!v) throw new UsageError(`clawport files ${action}: give the ${what}`)
    return v
  }
  const id = await api.instanceId(flags.instance)
  const base = `/instances/${id}/files`
  switch (action) {
    case 'ls':
    case 'list': {
      const list = await api.json<{ path: string; entries: Entry[] }>('GET', base, { query: { path: a } })
      ctx.out(list, (l: typeof list) =>
        l.entries
          .map((e) => `${e.type.padEnd(7)} ${String(e.size).padStart(10)}  ${e.modified_at}  ${e.name}`)
          .join('\n'),
      )
      return
    }
    case 'read':
    case 'cat': {
      const p = need(a, 'path')
      if (flags.json) {
        ctx.out(await api.json('GET', `${base}/read`, { query: { path: p } }))
        return
      }
      const res = await api.fetch('GET', `${base}/download`, { query: { path: p } })
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), process.stdout, {
        end: false,
      })
      return
    }
    case 'write': {
      const p = need(a, 'path')
      const raw = ctx.args.length > 2 ? Buffer.from(ctx.args.slice(2).join(' ')) : process.stdin
      const res = await api.fetch('POST', `${base}/upload`, { query: { path: p }, raw })
      ctx.out(await res.json(), (r) => `wrote ${r.size} bytes to ${r.path}`)
      return
    }
    case 'mkdir': {
      ctx.out(await api.json('POST', `${base}/mkdir`, { body: { path: need(a, 'path') } }), (r) => r.path)
      return
    }
    case 'upload': {
      const local = need(a, 'local file or folder')
      const remote = b ?? `/workspace/${path.basename(path.resolve(local))}`
      const res = await upload(api, id, local, remote)
      ctx.out(res, (r) => `uploaded ${r.uploaded.length} files to ${remote}`)
      return
    }
    case 'download': {
      const remote = need(a, 'remote path')
      const local = b ?? (path.posix.basename(remote) || 'workspace')
      const res = await download(api, id, remote, local)
      ctx.out(res, (r) => `downloaded ${r.downloaded.length} files to ${local}`)
      return
    }
    default:
      throw new UsageError('clawport files ls|read|write|mkdir|upload|download')
  }
}

export const command: Command<Record<never, never>> = {
  usage: `  clawport files ls [path]
  clawport files read <path>              raw bytes to stdout
  clawport files write <path> [content]   content from the argument or stdin
  clawport files upload <local> [remote]  a file or a folder, recursively
  clawport files download <remote> [local]`,
  options: {},
  run,
}
