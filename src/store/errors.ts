/**
 * Whether a store call failed because a value held text the database cannot store: PostgreSQL's
 * text has no NUL character (U+0000), which SQLite keeps. Such a value (a hostile id, a message
 * with a NUL in it) is the caller's mistake, answered as invalid input, never as a server error.
 */
export function isUnstorableText(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null
  // 22021: character_not_in_repertoire ("invalid byte sequence for encoding "UTF8": 0x00");
  // 22P05: untranslatable_character ("unsupported Unicode escape sequence", \u0000 in JSON).
  return (
    typeof e?.code === 'string' &&
    (e.code === '22021' || e.code === '22P05') &&
    typeof e.message === 'string' &&
    /0x00|\\u0000/.test(e.message)
  )
}
