import { randomUUID } from 'node:crypto'
import type { Logger } from '../../log.js'
import type { ChatMessageRow, Store } from '../../store/index.js'
import type { AgentRunner, TurnEvent } from '../agent.js'
import { nowIso } from '../time.js'
import type { ChatEventLog } from './event-log.js'
import { type ChatMessage, type ChatTool, messageFromRow } from './types.js'

/** How often deltas are written at most, and how much text forces a write sooner. */
export interface CoalesceOptions {
  intervalMs: number
  maxChars: number
}

export const DEFAULT_COALESCE: CoalesceOptions = { intervalMs: 50, maxChars: 4096 }

/** How a turn ended: the assistant message, or an error with whatever text came before it. */
export type TurnOutcome =
  | { ok: true; message: ChatMessage; messages: ChatMessage[] }
  | { ok: false; code: string; error: string; partial?: ChatMessage; messages: ChatMessage[] }

export interface TurnContext {
  instanceId: string
  sessionId: string
  sessionKey: string
  userMessage: ChatMessage
}

export interface TurnDeps {
  store: Store
  events: ChatEventLog
  runner: AgentRunner
  log: Logger
  coalesce: CoalesceOptions
}

const ABORTED = Symbol('aborted')

/** Writes queued before the turn stops reading the agent until the store catches up. */
const MAX_PENDING_WRITES = 64
/** Longest answer kept; an agent that streams past it has its turn ended. */
export const MAX_TURN_TEXT_CHARS = 2 * 1024 * 1024

/**
 * One agent turn, run in the core and not tied to any client: every delta (coalesced), tool call
 * and result, and the final message or error is written to the store, then published. Aborting
 * ends it at once with `error` code `aborted`, keeping the partial text.
 */
export class ChatTurn {
  readonly controller = new AbortController()
  private chain: Promise<unknown> = Promise.resolve()
  private pendingWrites = 0
  private text = ''
  private buffered = ''
  private lastFlush = 0
  private timer?: NodeJS.Timeout
  private readonly messages = new Map<string, ChatMessage>()
  private readonly toolCalls = new Map<string, string>()

  constructor(
    private readonly deps: TurnDeps,
    readonly ctx: TurnContext,
  ) {
    this.messages.set(ctx.userMessage.id, ctx.userMessage)
  }

  private abortReason = { code: 'aborted', message: 'The turn was aborted.' }

  /** Ends the turn now with an `error` event (code `aborted` unless another reason is given). */
  abort(reason?: { code: string; message: string }): void {
    if (this.controller.signal.aborted) return
    if (reason) this.abortReason = reason
    this.controller.abort()
  }

  private abandoned = false

  /**
   * Stops the turn without recording its end: another replica took the turn over (this one's
   * heartbeat lapsed) and has closed it already, so a second end would only confuse followers.
   */
  abandon(): void {
    if (this.controller.signal.aborted) return
    this.abandoned = true
    this.abort({ code: 'server_restarted', message: 'The turn was closed by another server.' })
  }

  /** Runs the turn to its end; never throws. */
  async run(): Promise<TurnOutcome> {
    const signal = this.controller.signal
    const aborted = new Promise<typeof ABORTED>((resolve) => {
      if (signal.aborted) resolve(ABORTED)
      else signal.addEventListener('abort', () => resolve(ABORTED), { once: true })
    })
    let end: Extract<TurnEvent, { type: 'done' | 'error' }> | undefined
    let it: AsyncIterator<TurnEvent> | undefined
    try {
      it = this.deps.runner
        .runTurn({
          instanceId: this.ctx.instanceId,
          sessionKey: this.ctx.sessionKey,
          message: this.ctx.userMessage.content,
          signal,
        })
        [Symbol.asyncIterator]()
      while (!end) {
        // A fast agent and a slow store: stop reading the agent rather than queue without bound.
        if (this.pendingWrites >= MAX_PENDING_WRITES) await Promise.race([this.chain, aborted])
        const r = await Promise.race([it.next(), aborted])
        if (r === ABORTED) end = { type: 'error', ...this.abortReason }
        else if (r.done)
          end = { type: 'error', code: 'agent_error', message: 'The agent ended the turn without an answer.' }
        else if (r.value.type === 'delta') {
          this.onDelta(r.value.text)
          if (this.text.length > MAX_TURN_TEXT_CHARS)
            end = {
              type: 'error',
              code: 'agent_error',
              message: `The answer grew past ${MAX_TURN_TEXT_CHARS} characters; the turn was ended.`,
            }
        } else if (r.value.type === 'tool') this.onTool(r.value)
        else end = r.value
      }
    } catch (err) {
      this.deps.log.error({ err, instanceId: this.ctx.instanceId }, 'turn failed')
      end = signal.aborted
        ? { type: 'error', ...this.abortReason }
        : { type: 'error', code: 'agent_error', message: 'The turn failed.' }
    } finally {
      // Lets the runner clean up (and cancel the run) without waiting for it.
      void it?.return?.()?.catch(() => {})
    }
    return this.finish(end)
  }

  /** Queues a write after every earlier one, so the turn's events keep their order. */
  private queue<T>(fn: () => Promise<T>): Promise<T> {
    this.pendingWrites++
    const next = this.chain.then(fn).finally(() => {
      this.pendingWrites--
    })
    this.chain = next.catch((err: unknown) =>
      this.deps.log.error({ err, instanceId: this.ctx.instanceId }, 'chat write failed'),
    )
    return next
  }

  private emit(type: string, data: Record<string, unknown>): Promise<unknown> {
    return this.queue(() => this.deps.events.append(this.ctx.instanceId, this.ctx.sessionId, type, data))
  }

  private onDelta(text: string): void {
    if (!text) return
    this.text += text
    this.buffered += text
    const since = Date.now() - this.lastFlush
    if (this.buffered.length >= this.deps.coalesce.maxChars || since >= this.deps.coalesce.intervalMs)
      this.flush()
    else this.timer ??= setTimeout(() => this.flush(), this.deps.coalesce.intervalMs - since)
  }

  /** Writes the buffered text as one `delta` event. */
  private flush(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (!this.buffered) return
    const text = this.buffered
    this.buffered = ''
    this.lastFlush = Date.now()
    void this.emit('delta', { text })
  }

  private onTool(e: Extract<TurnEvent, { type: 'tool' }>): void {
    this.flush()
    const key = e.call_id ?? `name:${e.name}`
    const tool: ChatTool = {
      name: e.name,
      arguments: e.arguments ?? null,
      ...(e.call_id ? { call_id: e.call_id } : {}),
    }
    if (e.result !== undefined) tool.result = e.result
    const status = e.status === 'started' ? 'running' : e.status
    const content =
      e.result === undefined ? '' : typeof e.result === 'string' ? e.result : JSON.stringify(e.result)
    void this.queue(async () => {
      const known = this.toolCalls.get(key)
      const at = nowIso()
      let row: ChatMessageRow | undefined
      if (known && e.status !== 'started') {
        const prev = this.messages.get(known)?.tool
        if (tool.arguments === null && prev) tool.arguments = prev.arguments
        row = await this.deps.store.chat.updateMessage(known, {
          content,
          tool,
          status,
          updated_at: at,
        })
      } else {
        row = await this.deps.store.chat.appendMessage({
          id: randomUUID(),
          session_id: this.ctx.sessionId,
          instance_id: this.ctx.instanceId,
          role: 'tool',
          content,
          tool,
          status,
          created_at: at,
          updated_at: at,
        })
      }
      if (!row) return
      const message = messageFromRow(row)
      this.messages.set(message.id, message)
      if (e.status === 'started') this.toolCalls.set(key, message.id)
      else this.toolCalls.delete(key)
      await this.deps.events.append(this.ctx.instanceId, this.ctx.sessionId, 'tool', {
        name: e.name,
        status: e.status,
        ...(tool.arguments !== null ? { arguments: tool.arguments } : {}),
        ...(e.result !== undefined ? { result: e.result } : {}),
        ...(e.call_id ? { call_id: e.call_id } : {}),
        message_id: message.id,
      })
    })
  }

  /** Stores the assistant message (or the partial one) and the closing `done` or `error` event. */
  private async finish(end: Extract<TurnEvent, { type: 'done' | 'error' }>): Promise<TurnOutcome> {
    if (this.abandoned) {
      clearTimeout(this.timer)
      const messages = [...this.messages.values()].sort((a, b) => a.seq - b.seq)
      const reason = this.abortReason
      return { ok: false, code: reason.code, error: reason.message, messages }
    }
    this.flush()
    const ok = end.type === 'done'
    const content = ok ? end.text || this.text : this.text
    const outcome = await this.queue(async (): Promise<TurnOutcome> => {
      const at = nowIso()
      let assistant: ChatMessage | undefined
      if (ok || content) {
        const row = await this.deps.store.chat.appendMessage({
          id: randomUUID(),
          session_id: this.ctx.sessionId,
          instance_id: this.ctx.instanceId,
          role: 'assistant',
          content,
          tool: null,
          status: ok ? 'complete' : this.controller.signal.aborted ? 'aborted' : 'error',
          created_at: at,
          updated_at: at,
        })
        assistant = messageFromRow(row)
        this.messages.set(assistant.id, assistant)
      }
      await this.deps.store.chat.updateSession(this.ctx.sessionId, { last_activity: at, updated_at: at })
      const messages = [...this.messages.values()].sort((a, b) => a.seq - b.seq)
      if (ok && assistant) {
        await this.deps.events.append(this.ctx.instanceId, this.ctx.sessionId, 'done', {
          message: assistant,
          ...(end.usage ? { usage: end.usage } : {}),
        })
        return { ok: true, message: assistant, messages }
      }
      const code = ok ? 'agent_error' : end.code
      const error = ok ? 'The turn ended without a message.' : end.message
      await this.deps.events.append(this.ctx.instanceId, this.ctx.sessionId, 'error', {
        message: error,
        code,
        ...(assistant ? { partial: assistant } : {}),
      })
      return { ok: false, code, error, ...(assistant ? { partial: assistant } : {}), messages }
    }).catch((err: unknown): TurnOutcome => {
      this.deps.log.error({ err, instanceId: this.ctx.instanceId }, 'turn not recorded')
      return { ok: false, code: 'internal_error', error: 'The turn could not be recorded.', messages: [] }
    })
    return outcome
  }
}
