import type { FastifyInstance, FastifyReply } from 'fastify'
import type { ChatFollower } from '../core/chat/follower.js'
import type { ChatEvent } from '../core/chat/types.js'
import type { CredentialWatch } from '../core/credential-watch.js'

/** A heartbeat comment at least this often keeps proxies and clients from timing out. */
export const HEARTBEAT_MS = 15_000

/** One server-sent events response, written by hand on the raw socket. */
export interface SseStream {
  /** Writes one event; false when the socket's buffer is full (wait for `drained()`). */
  send(id: number, event: string, data: unknown): boolean
  /** Writes an already formatted event (see `eventFrame`); same answer as `send`. */
  sendFrame(frame: string): boolean
  comment(text: string): void
  /** Resolves when the socket can take more, or when the stream stops. */
  drained(): Promise<void>
  /** Ends the response and runs the stop callbacks, once. */
  stop(): void
  onStop(fn: () => void): void
  readonly stopped: boolean
}

/**
 * Takes over the response for an event stream: headers and a first comment at once, a
 * heartbeat, and one idempotent `stop()` run on client disconnect or when the sender is done.
 */
export function openSse(reply: FastifyReply, heartbeatMs = HEARTBEAT_MS): SseStream {
  const sse = startSse(reply, heartbeatMs)
  // An open stream would hold the server's close: end them all when it closes.
  const open = openStreams(reply.server)
  open.add(sse)
  sse.onStop(() => open.delete(sse))
  // Nor may it outlive the key or sign-in that opened it.
  const watch = WATCHES.get(reply.server.server)
  const caller = reply.request.caller
  if (watch && caller) {
    const unwatch = watch.watch(caller, (reason) => {
      sse.comment(reason)
      sse.stop()
    })
    sse.onStop(unwatch)
  }
  return sse
}

const OPEN = new WeakMap<object, Set<SseStream>>()
const WATCHES = new WeakMap<object, CredentialWatch>()

/** Event streams of this app end when the credential that opened them is revoked. */
export function endStreamsOnRevoke(app: FastifyInstance, watch: CredentialWatch): void {
  WATCHES.set(app.server, watch)
}

/** Streams are grouped by the app's HTTP server, the one object all its plugin contexts share. */
function openStreams(app: FastifyInstance): Set<SseStream> {
  const root = app.server
  let set = OPEN.get(root)
  if (!set) {
    set = new Set()
    OPEN.set(root, set)
  }
  return set
}

/** Stops every open event stream of the app; call from its preClose hook. */
export function stopAllStreams(app: FastifyInstance): void {
  for (const sse of [...(OPEN.get(app.server) ?? [])]) sse.stop()
}

function startSse(reply: FastifyReply, heartbeatMs: number): SseStream {
  reply.hijack()
  const raw = reply.raw
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  })
  raw.socket?.setNoDelay(true)
  const callbacks: Array<() => void> = []
  let stopped = false
  const heartbeat = setInterval(() => raw.write(': ping\n\n'), heartbeatMs)
  const stop = () => {
    if (stopped) return
    stopped = true
    clearInterval(heartbeat)
    raw.off('close', stop)
    if (!raw.writableEnded) raw.end()
    for (const fn of callbacks.splice(0)) fn()
  }
  // The response's close, not the request's: a POST's request closes once its body is read.
  raw.once('close', stop)
  return {
    send(id, event, data) {
      if (stopped) return true
      return raw.write(formatEvent(id, event, data))
    },
    sendFrame(frame) {
      if (stopped) return true
      return raw.write(frame)
    },
    comment(text) {
      if (!stopped) raw.write(`: ${text}\n\n`)
    },
    drained() {
      if (stopped || !raw.writableNeedDrain) return Promise.resolve()
      return new Promise<void>((resolve) => {
        const done = () => {
          raw.off('drain', done)
          resolve()
        }
        raw.once('drain', done)
        callbacks.push(done)
      })
    },
    stop,
    onStop(fn) {
      if (stopped) fn()
      else callbacks.push(fn)
    },
    get stopped() {
      return stopped
    },
  }
}

function formatEvent(id: number, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

// A live event reaches every follower as the same object: it is serialized once, not once each.
const FRAMES = new WeakMap<ChatEvent, string>()

/** A chat event as one SSE frame: its cursor as id, its data with the session id. */
export function eventFrame(e: ChatEvent): string {
  let frame = FRAMES.get(e)
  if (frame === undefined) {
    frame = formatEvent(e.cursor, e.type, { ...e.data, session_id: e.session_id })
    FRAMES.set(e, frame)
  }
  return frame
}

/**
 * Writes a follower's events to the stream until it ends or the client leaves; each event's SSE
 * id is its cursor and its data carries the session id. Stops the stream at the end.
 */
export async function pipeEvents(sse: SseStream, follower: ChatFollower): Promise<void> {
  sse.onStop(() => follower.close())
  try {
    for await (const e of follower) {
      if (sse.stopped) break
      if (!sse.sendFrame(eventFrame(e))) await sse.drained()
    }
  } finally {
    follower.close()
    sse.stop()
  }
}
