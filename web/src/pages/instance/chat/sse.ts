import { EventSourceParserStream } from 'eventsource-parser/stream'

/** One server-sent event. */
export interface SseEvent {
  id?: string
  event: string
  data: string
}

/** Reads a text/event-stream body (a fetch Response) event by event; an abort ends the read. */
export async function* readSse(
  body: ReadableStream<Uint8Array<ArrayBuffer>>,
  signal?: AbortSignal,
): AsyncGenerator<SseEvent> {
  const reader = body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream())
    .getReader()
  const onAbort = () => void reader.cancel().catch(() => {})
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      const ev: SseEvent = { event: value.event ?? 'message', data: value.data }
      if (value.id !== undefined) ev.id = value.id
      yield ev
    }
  } finally {
    signal?.removeEventListener('abort', onAbort)
    // A reader that stops early closes the connection rather than leaving it to run.
    await reader.cancel().catch(() => {})
  }
}
