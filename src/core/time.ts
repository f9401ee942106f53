/** ISO-8601 UTC with milliseconds, the one time format of the API and the store. */
export function nowIso(): string {
  return new Date().toISOString()
}
