import { createHash } from 'node:crypto'

/** The SHA-256 digest of `data`: its bytes, or in `encoding`. */
export function sha256(data: string | Buffer): Buffer
export function sha256(data: string | Buffer, encoding: 'hex' | 'base64url'): string
export function sha256(data: string | Buffer, encoding?: 'hex' | 'base64url'): Buffer | string {
  const hash = createHash('sha256').update(data)
  return encoding ? hash.digest(encoding) : hash.digest()
}
