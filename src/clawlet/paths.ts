import path from 'node:path'
import { AppError, errors } from '../errors.js'
import { errnoCode } from '../lib/errno.js'
import { WORKSPACE } from '../wire/clawlet.js'

/** Longest path the clawlet accepts, in characters (Linux PATH_MAX). */
export const MAX_PATH_CHARS = 4096

/**
 * Resolves a path as seen inside the instance: relative paths resolve under /workspace,
 * absolute ones are taken as they are. `..` collapses; the sandbox itself is the boundary,
 * so no string check here is a security measure, only input hygiene.
 */
export function resolvePath(input: string | null | undefined): string {
  if (input === null || input === undefined || input === '') {
    throw errors.invalidPath('A path is required.')
  }
  if (input.includes('\0')) throw errors.invalidPath('A path may not contain a NUL byte.')
  if (input.length > MAX_PATH_CHARS) {
    throw errors.invalidPath(`A path may be at most ${MAX_PATH_CHARS} characters long.`)
  }
  return path.posix.resolve(WORKSPACE, input)
}

/** True for the two folders no request may delete or move away. */
export function isProtectedPath(resolved: string): boolean {
  return resolved === '/' || resolved === WORKSPACE
}

/** Maps a failed file system call on `target` (an instance path) to the error the caller sees. */
export function fsError(err: unknown, target: string): AppError {
  if (err instanceof AppError) return err
  switch (errnoCode(err)) {
    case 'ENOENT':
      return errors.pathNotFound(target)
    case 'EACCES':
    case 'EPERM':
      return errors.forbidden(`Permission denied: ${target}.`, 'permission_denied')
    case 'EROFS':
      return errors.forbidden(`${target} is on a read-only file system.`, 'permission_denied')
    case 'ENOTDIR':
      return errors.conflict(
        `${target} is not a folder (or a part of its path is a file).`,
        'not_a_directory',
      )
    case 'EISDIR':
      return errors.conflict(`${target} is a folder.`, 'is_a_directory')
    case 'EEXIST':
      return errors.conflict(`${target} already exists.`, 'already_exists')
    case 'ENOTEMPTY':
      return errors.conflict(
        `The folder ${target} is not empty; delete it recursively.`,
        'directory_not_empty',
      )
    case 'ENAMETOOLONG':
      return errors.invalidPath(`The path ${truncate(target)} is too long.`)
    case 'EINVAL':
      return errors.invalidPath(`The path ${target} is not valid for this operation.`)
    case 'ELOOP':
      return errors.invalidPath(`The path ${target} has too many levels of symbolic links.`)
    case 'ENOSPC':
    case 'EDQUOT':
      return diskFull(target)
    default:
      return errors.internal()
  }
}

/** The instance's disk (or its quota) is full. */
export function diskFull(target: string): AppError {
  return errors.tooLarge(
    `The instance's disk is full (or its quota is used up) while writing ${target}; free some space and retry.`,
    'disk_full',
  )
}

function truncate(text: string): string {
  return text.length > 120 ? `${text.slice(0, 117)}...` : text
}
