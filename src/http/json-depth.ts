/** Deepest nesting of arrays and objects a JSON request body may have. */
export const MAX_JSON_DEPTH = 64

/**
 * Whether JSON text nests arrays or objects deeper than `max`, found in one pass over the text
 * (brackets inside strings do not count) before anything is parsed: JSON.parse copes with deep
 * nesting, but the recursive work after it (validation, serialization, templating) would run out
 * of stack on a body of a few hundred kilobytes.
 */
export function nestsDeeperThan(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c)
        i++ // a backslash: the next character is escaped
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return false
}
