import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Services } from '../../../core/services.js'
import type { ErrorCode } from '../../../errors.js'
import { Encoding, FileContent, FileEntry, FileList, PathResult, WriteResult } from '../../../wire/clawlet.js'
import { callerOf } from '../../plugins/auth.js'
import { errorResponses, InstanceParams } from '../../schemas.js'

export const FilePath = z.string().min(1).max(4096).describe('Absolute, or relative to /workspace')
const PathQuery = z.object({ path: FilePath })
/** What a file call can answer but for a size; the instance's own answers are passed on. */
export const FILE_ERRORS = [
  'permission_denied',
  'instance_not_found',
  'path_not_found',
  'instance_not_ready',
  'instance_waking',
  'already_exists',
  'is_a_directory',
  'not_a_directory',
  'not_a_regular_file',
  'directory_not_empty',
  'upload_aborted',
  'invalid_path',
  'instance_unavailable',
  'runner_unavailable',
] as const satisfies readonly ErrorCode[]
export const SIZE_ERRORS = [
  'payload_too_large',
  'file_too_large',
  'disk_full',
] as const satisfies readonly ErrorCode[]
const fileErrors = () => errorResponses(...FILE_ERRORS, ...SIZE_ERRORS)

/** Browse, read, write and rearrange an instance's files. */
export const fileRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const ws = services.workspace
  const tags = ['files']

  app.get(
    '/api/instances/:id/files',
    {
      schema: {
        operationId: 'files.list',
        summary: 'List a folder (default /workspace)',
        tags,
        params: InstanceParams,
        querystring: z.object({ path: FilePath.optional() }),
        response: { 200: FileList, ...fileErrors() },
      },
    },
    async (req) => ws.list(callerOf(req), req.params.id, req.query.path),
  )

  app.get(
    '/api/instances/:id/files/stat',
    {
      schema: {
        operationId: 'files.stat',
        summary: 'Describe one file or folder',
        tags,
        params: InstanceParams,
        querystring: PathQuery,
        response: { 200: FileEntry, ...fileErrors() },
      },
    },
    async (req) => ws.stat(callerOf(req), req.params.id, req.query.path),
  )

  app.get(
    '/api/instances/:id/files/read',
    {
      schema: {
        operationId: 'files.read',
        summary: 'Read a file; binary content comes back base64',
        tags,
        params: InstanceParams,
        querystring: PathQuery,
        response: { 200: FileContent, ...fileErrors() },
      },
    },
    async (req) => ws.read(callerOf(req), req.params.id, req.query.path),
  )

  app.post(
    '/api/instances/:id/files/write',
    {
      schema: {
        operationId: 'files.write',
        summary: 'Write a file (atomically); parent folders are created',
        tags,
        params: InstanceParams,
        body: z.object({ path: FilePath, content: z.string(), encoding: Encoding.optional() }),
        response: { 200: WriteResult, ...fileErrors() },
      },
    },
    async (req) => ws.write(callerOf(req), req.params.id, req.body.path, req.body.content, req.body.encoding),
  )

  app.post(
    '/api/instances/:id/files/mkdir',
    {
      schema: {
        operationId: 'files.mkdir',
        summary: 'Create a folder and its parents; succeeds if it exists',
        tags,
        params: InstanceParams,
        body: z.object({ path: FilePath }),
        response: { 200: PathResult, ...fileErrors() },
      },
    },
    async (req) => ws.mkdir(callerOf(req), req.params.id, req.body.path),
  )

  app.post(
    '/api/instances/:id/files/move',
    {
      schema: {
        operationId: 'files.move',
        summary: 'Move or rename a file or folder',
        tags,
        params: InstanceParams,
        body: z.object({ from: FilePath, to: FilePath, overwrite: z.boolean().optional() }),
        response: { 200: PathResult, ...fileErrors() },
      },
    },
    async (req) => ws.move(callerOf(req), req.params.id, req.body.from, req.body.to, req.body.overwrite),
  )

  app.delete(
    '/api/instances/:id/files',
    {
      schema: {
        operationId: 'files.delete',
        summary: 'Delete a file, or a folder with recursive=true',
        tags,
        params: InstanceParams,
        querystring: z.object({ path: FilePath, recursive: z.stringbool().optional() }),
        response: { 204: z.null().describe('Deleted'), ...fileErrors() },
      },
    },
    async (req, reply) => {
      await ws.remove(callerOf(req), req.params.id, req.query.path, req.query.recursive ?? false)
      return reply.status(204).send(null)
    },
  )
}
