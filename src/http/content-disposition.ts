/** Characters RFC 5987 lets stand unescaped in an ext-value (`attr-char`). */
const ATTR_CHAR = /[A-Za-z0-9!#$&+\-.^_`|~]/

/** Percent-encodes a name as RFC 5987's UTF-8 ext-value (lone surrogates become U+FFFD). */
function extValue(name: string): string {
  let out = ''
  for (const byte of Buffer.from(name, 'utf8')) {
    const ch = String.fromCharCode(byte)
    out += byte < 0x80 && ATTR_CHAR.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** A plain-ASCII stand-in for clients that do not read `filename*`: accents dropped, the rest `_`. */
function asciiFallback(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^\x20-\x7e]|["\\%]/g, '_')
}

/**
 * A `Content-Disposition: attachment` value for any file name (RFC 6266): an ASCII
 * `filename=` every client reads, and the exact name as `filename*=UTF-8''...` when it differs.
 * Header values must be Latin-1, so a raw non-ASCII name would fail the whole answer.
 */
export function attachmentDisposition(name: string): string {
  const fallback = asciiFallback(name)
  if (fallback === name) return `attachment; filename="${fallback}"`
  return `attachment; filename="${fallback}"; filename*=UTF-8''${extValue(name)}`
}
