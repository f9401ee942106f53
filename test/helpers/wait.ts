/** Polls `fn` until it returns something other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
