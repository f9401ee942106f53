/** One server-sent event as a plain client parses it off the wire. */
export interface SseEvent {
  id?: string
  event: string
  data: any
}

/**
 * Parses text/event-stream text the way the spec says (and a hosted-docs client would): events
 * end at a blank line, `data:` lines join with newlines, comments start with `:`.
 */
export function parseSse(text: string): SseEvent[] {
  const out: SseEvent[] = []
  for (const block of text.replace(/\r\n?/g, '\n').split('\n\n')) {
    const e = parseBlock(block)
    if (e) out.push(e)
  }
  return out
}

function parseBlock(block: string): SseEvent | undefined {
  let id: string | undefined
  let event = 'message'
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue
    const i = line.indexOf(':')
    const field = i < 0 ? line : line.slice(0, i)
    let value = i < 0 ? '' : line.slice(i + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'id') id = value
    else if (field === 'event') event = value
    else if (field === 'data') data.push(value)
  }
  if (!data.length) return undefined
  const raw = data.join('\n')
  let parsed: unknown = raw
  try {
    parsed = JSON.parse(raw)
  } catch {}
  return { ...(id !== undefined ? { id } : {}), event, data: parsed }
}

/** Reads an SSE response incrementally: call `next()` for each event, in order. */
export class SseReader {
  private buf = ''
  private readonly queue: SseEvent[] = []
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
        this.take(true)
        continue
      }
      this.buf += this.decoder.decode(r.value, { stream: true })
      this.take(false)
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

  private take(final: boolean): void {
    this.buf = this.buf.replace(/\r\n?/g, '\n')
    let i = this.buf.indexOf('\n\n')
    while (i >= 0) {
      const block = this.buf.slice(0, i)
      this.buf = this.buf.slice(i + 2)
      for (const line of block.split('\n')) if (line.startsWith(':')) this.comments.push(line.slice(1).trim())
      const e = parseBlock(block)
      if (e) this.queue.push(e)
      i = this.buf.indexOf('\n\n')
    }
    if (final && this.buf.trim()) {
      const e = parseBlock(this.buf)
      if (e) this.queue.push(e)
      this.buf = ''
    }
  }
}
