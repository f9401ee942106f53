/** How long to poll (default 30 s) and how often (default 100 ms, or by the time waited so far). */
export interface WaitOptions {
  timeoutMs?: number
  intervalMs?: number | ((waitedMs: number) => number)
}

type Truthy<T> = Exclude<T, undefined | null | false | 0 | ''>
type Check<T> = () => T | Promise<T>

/**
 * Polls `check` until it returns a truthy value, and answers that value. A falsy value means
 * "not yet"; a throw ends the wait at once (so a check can fail fast on a state that will not
 * get better). Past `timeoutMs` it fails, naming `what` was awaited (a function is asked then,
 * so it can tell the last state seen).
 */
export async function waitFor<T>(
  what: string | (() => string),
  check: Check<T>,
  { timeoutMs = 30_000, intervalMs = 100 }: WaitOptions = {},
): Promise<Truthy<T>> {
  const started = Date.now()
  for (;;) {
    const v = await check()
    if (v) return v as Truthy<T>
    const waitedMs = Date.now() - started
    if (waitedMs > timeoutMs)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      )
    await new Promise((r) =>
      setTimeout(r, typeof intervalMs === 'number' ? intervalMs : intervalMs(waitedMs)),
    )
  }
}
