import type { FastifyInstance, FastifyReply } from 'fastify'
import type { ChatFollower } from '../core/chat/follower.js'
import type { ChatEvent } from '../core/chat/types.js'
import type { CredentialWatch } from '../core/credential-watch.js'

/** A heartbeat comment at least this often keeps proxies and clients from timing out. */
export const HEARTBEAT_MS = 15_000

/** One server-sent events response, written by hand on the raw socket. */
export interface SseStream {
  /**
   * Writes one event, or queues it behind earlier ones while the socket is full; false when the
   * caller should wait for `drained()` before sending more.
   */
  send(id: number, event: string, data: unknown): boolean
  /** Writes an already formatted event (see `eventFrame`); same answer as `send`. */
  sendFrame(frame: string): boolean
  comment(text: string): void
  /** Resolves when everything queued reached the socket and it can take more, or when the stream stops. */
  drained(): Promise<void>
  /** Stops once everything queued is written; later sends are dropped. */
  end(): void
  /** Ends the response at once (dropping what is queued) and runs the stop callbacks, once. */
  stop(): void
  onStop(fn: () => void): void
  readonly stopped: boolean
}

/**
 * A client this far behind (bytes queued while its socket is full) is cut off rather than
 * buffered for: it resumes from a fresh start on reconnect, as every stream here allows.
 */
export const MAX_QUEUED_BYTES = 1024 * 1024

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
  // Node holds the headers until the first body bytes: send some now, so the client and any
  // proxy see the stream open before the first event, however long that takes.
  raw.write(': ok\n\n')
  const callbacks: Array<() => void> = []
  // Frames waiting for the socket to drain, in order; one writer for every route's events.
  const queue: string[] = []
  let queuedBytes = 0
  const waiters: Array<() => void> = []
  let stopped = false
  let ending = false
  const heartbeat = setInterval(() => {
    if (!queue.length) raw.write(': ping\n\n')
  }, heartbeatMs)
  const release = () => {
    for (const fn of waiters.splice(0)) fn()
  }
  const stop = () => {
    if (stopped) return
    stopped = true
    clearInterval(heartbeat)
    raw.off('close', stop)
    raw.off('drain', flush)
    queue.length = 0
    if (!raw.writableEnded) raw.end()
    release()
    for (const fn of callbacks.splice(0)) fn()
  }
  function flush(): void {
    while (queue.length) {
      const frame = queue.shift() as string
      queuedBytes -= Buffer.byteLength(frame)
      if (!raw.write(frame)) return
    }
    if (ending) stop()
    else release()
  }
  const write = (frame: string): boolean => {
    if (stopped || ending) return true
    if (!queue.length && !raw.writableNeedDrain) return raw.write(frame)
    queue.push(frame)
    queuedBytes += Buffer.byteLength(frame)
    if (queuedBytes > MAX_QUEUED_BYTES) {
      reply.log.warn({ queuedBytes }, 'event stream client too slow, closing')
      stop()
    }
    return false
  }
  // The response's close, not the request's: a POST's request closes once its body is read.
  raw.once('close', stop)
  raw.on('drain', flush)
  return {
    send: (id, event, data) => write(formatEvent(id, event, data)),
    sendFrame: write,
    comment(text) {
      write(`: ${text}\n\n`)
    },
    drained() {
      if (stopped || (!queue.length && !raw.writableNeedDrain)) return Promise.resolve()
      return new Promise<void>((resolve) => waiters.push(resolve))
    },
    end() {
      if (stopped || ending) return
      ending = true
      if (!queue.length) stop()
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
