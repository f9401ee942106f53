/** One server-sent event. */
export interface SseEvent {
  id?: string
  event: string
  data: string
}

/** Reads a text/event-stream body (a fetch Response) event by event. */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<SseEvent> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  const onAbort = () => void reader.cancel().catch(() => {})
  signal?.addEventListener('abort', onAbort, { once: true })
  let buf = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n')
      let end = buf.indexOf('\n\n')
      while (end >= 0) {
        const block = buf.slice(0, end)
        buf = buf.slice(end + 2)
        const ev: SseEvent = { event: 'message', data: '' }
        const data: string[] = []
        for (const line of block.split('\n')) {
          if (!line || line.startsWith(':')) continue
          const i = line.indexOf(':')
          const field = i < 0 ? line : line.slice(0, i)
          const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '')
          if (field === 'event') ev.event = val
          else if (field === 'data') data.push(val)
          else if (field === 'id') ev.id = val
        }
        ev.data = data.join('\n')
        if (data.length) yield ev
        end = buf.indexOf('\n\n')
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort)
    reader.releaseLock()
  }
}
