import path from 'node:path'
import type { Readable } from 'node:stream'
import type { WorkspaceConfig } from '../config.js'
import { errors } from '../errors.js'
import type {
  ExecRequest,
  ExecResult,
  FileContent,
  FileEntry,
  FileList,
  WriteResult,
} from '../wire/clawlet.js'
import { WORKSPACE } from '../wire/clawlet.js'
import type { InstanceService } from './instances.js'
import type { Actor } from './scope.js'

export interface UploadInput {
  targetDir?: string
  fileName: string
  content: string
  encoding?: 'utf8' | 'base64'
}

/** Decodes the JSON forms' content; base64 must really be base64. */
function decode(content: string, encoding: 'utf8' | 'base64' = 'utf8'): Buffer {
  if (encoding === 'base64') {
    const clean = content.replace(/\s+/g, '')
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(clean)) {
      throw errors.validation('content is not valid base64.', { field: 'content' })
    }
    return Buffer.from(clean, 'base64')
  }
  return Buffer.from(content, 'utf8')
}

/** A file name for uploads: one path segment, nothing that climbs or hides a folder. */
export function checkFileName(name: string): string {
  if (
    !name ||
    name === '.' ||
    name === '..' ||
    name.includes('/') ||
    name.includes('\0') ||
    name.length > 255
  ) {
    throw errors.validation('fileName must be a plain file name without "/".', { field: 'fileName' })
  }
  return name
}

/** Files and commands of an instance, executed by its clawlet inside the sandbox. */
export class WorkspaceService {
  constructor(
    private readonly instances: InstanceService,
    private readonly config: WorkspaceConfig,
  ) {}

  async list(actor: Actor, id: string, p = WORKSPACE): Promise<FileList> {
    return (await this.instances.readyClient(actor, id)).list(p)
  }

  async stat(actor: Actor, id: string, p: string): Promise<FileEntry> {
    return (await this.instances.readyClient(actor, id)).stat(p)
  }

  async read(actor: Actor, id: string, p: string): Promise<FileContent> {
    return (await this.instances.readyClient(actor, id)).read(p, this.config.readLimitBytes)
  }

  async write(actor: Actor, id: string, p: string, content: string, encoding?: 'utf8' | 'base64') {
    const client = await this.instances.readyClient(actor, id)
    return client.write(p, decode(content, encoding), {
      mkdirs: true,
      overwrite: true,
      maxBytes: this.config.maxUploadBytes,
    })
  }

  async upload(actor: Actor, id: string, input: UploadInput): Promise<WriteResult> {
    const target = path.posix.join(input.targetDir ?? WORKSPACE, checkFileName(input.fileName))
    return this.write(actor, id, target, input.content, input.encoding)
  }

  /** Streams a raw body into a file; the clawlet drops the partial file if the stream fails. */
  async uploadStream(actor: Actor, id: string, target: string, body: Readable): Promise<WriteResult> {
    const client = await this.instances.readyClient(actor, id)
    return client.write(target, body, { mkdirs: true, overwrite: true, maxBytes: this.config.maxUploadBytes })
  }

  async mkdir(actor: Actor, id: string, p: string) {
    return (await this.instances.readyClient(actor, id)).mkdir(p)
  }

  async download(actor: Actor, id: string, p: string) {
    return (await this.instances.readyClient(actor, id)).download(p)
  }

  async remove(actor: Actor, id: string, p: string, recursive: boolean): Promise<void> {
    await (await this.instances.readyClient(actor, id)).remove(p, recursive)
  }

  async move(actor: Actor, id: string, from: string, to: string, overwrite?: boolean) {
    return (await this.instances.readyClient(actor, id)).move(from, to, overwrite)
  }

  /** Runs a command; the timeout is clamped to the server's maximum and kills the whole group. */
  async exec(actor: Actor, id: string, req: ExecRequest): Promise<ExecResult> {
    const client = await this.instances.readyClient(actor, id)
    const timeout = Math.min(req.timeout_ms ?? this.config.execTimeoutMs, this.config.execMaxTimeoutMs)
    return client.exec({ ...req, timeout_ms: timeout })
  }
}
