import path from 'node:path'
import type { Readable } from 'node:stream'
import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Services } from '../../../core/services.js'
import { checkFileName } from '../../../core/workspace.js'
import { errors } from '../../../errors.js'
import { Encoding, WriteResult } from '../../../wire/clawlet.js'
import { attachmentDisposition } from '../../content-disposition.js'
import { callerOf } from '../../plugins/auth.js'
import { errorResponses, InstanceParams } from '../../schemas.js'
import { FILE_ERRORS, FilePath, SIZE_ERRORS } from './index.js'

const UploadBody = z
  .object({
    targetDir: FilePath.optional(),
    target_dir: FilePath.optional(),
    fileName: z.string().optional(),
    file_name: z.string().optional(),
    content: z.string(),
    encoding: Encoding.optional(),
  })
  .describe(
    'JSON upload. A raw body (application/octet-stream) with ?path= or ?targetDir=&fileName= streams instead.',
  )
  .nullish()

const UploadQuery = z.object({
  path: FilePath.optional(),
  targetDir: FilePath.optional(),
  target_dir: FilePath.optional(),
  fileName: z.string().optional(),
  file_name: z.string().optional(),
})

const streams = new WeakMap<FastifyRequest, Readable>()

/** Uploads (JSON or a streamed raw body) and streamed downloads. */
export const transferRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const ws = services.workspace
  // Raw bodies are not buffered: the stream goes straight to the clawlet, which enforces the size cap.
  app.addContentTypeParser('application/octet-stream', (request, payload, done) => {
    streams.set(request, payload)
    done(null, undefined)
  })

  app.post(
    '/api/instances/:id/files/upload',
    {
      // Large uploads may take long: cut only when they stall.
      config: { streamingBody: true },
      schema: {
        operationId: 'files.upload',
        summary: 'Upload a file into a folder (JSON with content, or a streamed raw body)',
        tags: ['files'],
        params: InstanceParams,
        querystring: UploadQuery,
        body: UploadBody,
        response: { 200: WriteResult, ...errorResponses(...FILE_ERRORS, ...SIZE_ERRORS) },
      },
    },
    async (req) => {
      const caller = callerOf(req)
      const body = req.body
      if (body) {
        const fileName = body.fileName ?? body.file_name
        if (!fileName) throw errors.validation('fileName is required.', { field: 'fileName' })
        return ws.upload(caller, req.params.id, {
          targetDir: body.targetDir ?? body.target_dir,
          fileName,
          content: body.content,
          encoding: body.encoding,
        })
      }
      const stream = streams.get(req)
      if (!stream) throw errors.validation('Send a JSON body or a raw application/octet-stream body.')
      const q = req.query
      let target = q.path
      if (!target) {
        const fileName = q.fileName ?? q.file_name
        if (!fileName)
          throw errors.validation('A raw upload needs ?path= or ?fileName= (with optional targetDir).')
        target = path.posix.join(q.targetDir ?? q.target_dir ?? '/workspace', checkFileName(fileName))
      }
      return ws.uploadStream(caller, req.params.id, target, stream)
    },
  )

  app.get(
    '/api/instances/:id/files/download',
    {
      schema: {
        operationId: 'files.download',
        summary: 'Download a file as raw bytes, or a folder as .tar.gz (streamed)',
        tags: ['files'],
        params: InstanceParams,
        querystring: z.object({ path: FilePath }),
        response: {
          200: z.string().meta({ format: 'binary' }),
          ...errorResponses(...FILE_ERRORS),
        },
      },
    },
    async (req, reply) => {
      const dl = await ws.download(callerOf(req), req.params.id, req.query.path)
      const base = path.posix.basename(req.query.path) || 'workspace'
      const name = dl.kind === 'dir' ? `${base}.tar.gz` : base
      reply.header('content-type', dl.kind === 'dir' ? 'application/gzip' : 'application/octet-stream')
      reply.header('content-disposition', attachmentDisposition(name))
      if (dl.size !== undefined) reply.header('content-length', String(dl.size))
      req.raw.once('close', () => {
        if (!reply.raw.writableFinished) dl.stream.destroy()
      })
      // A stream bypasses the serializer; the schema above only documents the bytes.
      return reply.send(dl.stream as unknown as string)
    },
  )
}
