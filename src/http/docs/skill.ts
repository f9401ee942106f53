import { readFileSync } from 'node:fs'
import path from 'node:path'
import { gzipSync } from 'node:zlib'

/** The files of the bundle, in archive order. */
export const SKILL_FILES = ['SKILL.md', 'clawport.mjs'] as const
export type SkillFile = (typeof SKILL_FILES)[number]

/** The repository, the same depth from src/ and dist/. */
const REPO = path.resolve(import.meta.dirname, '../../..')

/**
 * Where each file of the bundle is: SKILL.md as written, the client script as built from
 * src/skill-client/ (`npm run build:skill`).
 */
const SOURCES: Record<SkillFile, string> = {
  'SKILL.md': path.join(REPO, 'skills/clawport/SKILL.md'),
  'clawport.mjs': path.join(REPO, 'dist/skills/clawport/clawport.mjs'),
}

/** A bundle file with the serving origin filled in (`{{ORIGIN}}` in the sources). */
export function skillFile(name: SkillFile, origin: string): string {
  return readFileSync(SOURCES[name], 'utf8').replaceAll('{{ORIGIN}}', origin)
}

/** The bundle as a .tar.gz with one `clawport/` folder, for `curl ... | tar xz`. */
export function skillArchive(origin: string): Buffer {
  const parts: Buffer[] = [tarHeader('clawport/', 0, 0o755, '5')]
  for (const name of SKILL_FILES) {
    const body = Buffer.from(skillFile(name, origin))
    parts.push(tarHeader(`clawport/${name}`, body.length, name.endsWith('.mjs') ? 0o755 : 0o644, '0'))
    parts.push(body, Buffer.alloc((512 - (body.length % 512)) % 512))
  }
  parts.push(Buffer.alloc(1024))
  return gzipSync(Buffer.concat(parts))
}

/** One ustar header block. */
function tarHeader(name: string, size: number, mode: number, type: '0' | '5'): Buffer {
  const h = Buffer.alloc(512)
  const put = (text: string, offset: number, length: number) => h.write(text, offset, length, 'ascii')
  const octal = (n: number, length: number) => `${n.toString(8).padStart(length - 1, '0')}\0`
  put(name, 0, 100)
  put(octal(mode, 8), 100, 8)
  put(octal(0, 8), 108, 8)
  put(octal(0, 8), 116, 8)
  put(octal(size, 12), 124, 12)
  put(octal(Math.floor(Date.now() / 1000), 12), 136, 12)
  put('        ', 148, 8)
  put(type, 156, 1)
  put('ustar\0', 257, 6)
  put('00', 263, 2)
  let sum = 0
  for (const b of h) sum += b
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8)
  return h
}
