import { z } from 'zod'
import type { InstanceDriver } from '../drivers/driver.js'
import { type LogCursor, LogSource } from '../drivers/instance-logs.js'
import { errors } from '../errors.js'
import type { InstanceService } from './instances.js'
import type { Actor } from './scope.js'

export { LOG_LINE_MAX_CHARS, LOG_TAIL_MAX_LINES, LogSource } from '../drivers/instance-logs.js'

/** The last lines of one of an instance's logs. */
export const InstanceLogs = z
  .object({
    instance_id: z.string(),
    source: LogSource,
    lines: z.array(z.string()),
  })
  .meta({ id: 'InstanceLogs' })
export type InstanceLogs = z.infer<typeof InstanceLogs>

/** Lines appended to a followed log since the last batch. */
export interface LogBatch {
  lines: string[]
  /** Bytes passed over because the log grew faster than a follow reads. */
  skipped_bytes: number
}

/** How often a follow looks at the file; each look reads at most LOG_READ_MAX_BYTES. */
export const FOLLOW_POLL_MS = 500
/** A follow checks this often that the instance is still there and still the caller's. */
const FOLLOW_RECHECK_MS = 5_000

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })

/** Instances' own log files (boot, clawlet, gateway, desktop), for their owner, bounded. */
export class InstanceLogService {
  constructor(
    private readonly instances: InstanceService,
    private readonly driver: InstanceDriver,
  ) {}

  private reader() {
    const read = this.driver.readLog?.bind(this.driver)
    if (!read) throw errors.notSupported('instance logs')
    return read
  }

  /** The last `tail` lines of a log (none yet when the instance never wrote it). */
  async tail(actor: Actor, id: string, source: LogSource, tail: number): Promise<InstanceLogs> {
    const row = await this.instances.owned(actor, id)
    const chunk = await this.reader()(row.id, { source, tail })
    return { instance_id: row.id, source, lines: chunk.lines }
  }

  /**
   * The last `tail` lines, then every line appended, batch by batch, until `signal` aborts or
   * the instance is gone. A rotated, replaced or truncated file is read again from its start.
   */
  async *follow(
    actor: Actor,
    id: string,
    source: LogSource,
    tail: number,
    signal: AbortSignal,
  ): AsyncGenerator<LogBatch> {
    const row = await this.instances.owned(actor, id)
    const read = this.reader()
    const first = await read(row.id, { source, tail })
    let cursor: LogCursor | null = first.cursor
    yield { lines: first.lines, skipped_bytes: 0 }
    let checked = Date.now()
    while (!signal.aborted) {
      await sleep(FOLLOW_POLL_MS, signal)
      if (signal.aborted) return
      if (Date.now() - checked >= FOLLOW_RECHECK_MS) {
        await this.instances.owned(actor, row.id)
        checked = Date.now()
      }
      const chunk = await read(row.id, { source, cursor })
      cursor = chunk.cursor
      if (chunk.lines.length || chunk.skippedBytes)
        yield { lines: chunk.lines, skipped_bytes: chunk.skippedBytes }
    }
  }
}
