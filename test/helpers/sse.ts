import { createParser, type EventSourceMessage } from 'eventsource-parser'

/** One server-sent event as a plain client parses it off the wire. */
export interface SseEvent {
  id?: string
  event: string
  data: any
}

/**
 * Parses text/event-stream text the way the spec says (and a hosted-docs client would): events
 * end at a blank line, `data:` lines join with newlines, comments start with `:`. A last event
 * the text does not end with a blank line is taken too.
 */
export function parseSse(text: string): SseEvent[] {
  const out: SseEvent[] = []
  const parser = createParser({ onEvent: (m) => out.push(toEvent(m)) })
  parser.feed(text)
  parser.feed('\n\n')
  return out
}

function toEvent(m: EventSourceMessage): SseEvent {
  let data: unknown = m.data
  try {
    data = JSON.parse(m.data)
  } catch {}
  return { ...(m.id !== undefined ? { id: m.id } : {}), event: m.event ?? 'message', data }
}

/** Reads an SSE response incrementally: call `next()` for each event, in order. */
export class SseReader {
  private readonly queue: SseEvent[] = []
  private readonly parser = createParser({
    onEvent: (m) => this.queue.push(toEvent(m)),
    onComment: (c) => this.comments.push(c.trim()),
  })
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>
  private readonly decoder = new TextDecoder()
  /** Comments seen (heartbeats and the like). */
  comments: string[] = []
  ended = false

  constructor(res: Response) {
    if (!res.body) throw new Error('no body')
    this.reader = res.body.getReader()
  }

  /** The next event, or undefined when the stream ended. */
  async next(timeoutMs = 60_000): Promise<SseEvent | undefined> {
    const deadline = Date.now() + timeoutMs
    while (!this.queue.length) {
      if (this.ended) return undefined
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('no SSE event in time')
      let timer: NodeJS.Timeout | undefined
      const r = await Promise.race([
        this.reader.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no SSE event in time')), left)
        }),
      ]).finally(() => clearTimeout(timer))
      if (r.done) {
        this.ended = true
        this.parser.feed(`${this.decoder.decode()}\n\n`)
        continue
      }
      this.parser.feed(this.decoder.decode(r.value, { stream: true }))
    }
    return this.queue.shift()
  }

  /** Every event until the stream ends. */
  async rest(timeoutMs = 60_000): Promise<SseEvent[]> {
    const out: SseEvent[] = []
    for (let e = await this.next(timeoutMs); e; e = await this.next(timeoutMs)) out.push(e)
    return out
  }

  /** Drops the connection as a client that goes away would. */
  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => {})
  }
}
