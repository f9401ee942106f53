import type { Caller } from '../door/caller.js'
import type { Logger } from '../log.js'
import type { Store } from '../store/index.js'

/** Counts the tokens of one model call from the upstream's `usage` (or its streamed chunks). */
export class UsageCall {
  private tail = ''
  private usage?: { prompt_tokens?: number; completion_tokens?: number }
  private streamedChars = 0
  private promptChars = 0
  private done = false

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly caller: Caller,
    private readonly model: string,
    private readonly started: number,
  ) {}

  /** The request's size, counted when the upstream reports no usage. */
  estimatePrompt(chars: number): void {
    this.promptChars = chars
  }

  /** Looks at answer bytes as they pass: SSE lines or one JSON body. */
  observe(chunk: Uint8Array): void {
    this.tail += Buffer.from(chunk).toString('utf8')
    const lines = this.tail.split('\n')
    this.tail = lines.pop() ?? ''
    for (const line of lines) this.line(line)
  }

  private line(line: string): void {
    const text = line.startsWith('data:') ? line.slice(5).trim() : line.trim()
    if (!text || text === '[DONE]' || !text.startsWith('{')) return
    try {
      const obj = JSON.parse(text) as {
        usage?: { prompt_tokens?: number; completion_tokens?: number }
        choices?: Array<{ delta?: { content?: string } }>
      }
      if (obj.usage) this.usage = obj.usage
      for (const c of obj.choices ?? []) this.streamedChars += c.delta?.content?.length ?? 0
    } catch {}
  }

  /** Writes the call's row; without upstream usage, about four characters per token. */
  finish(status: 'ok' | 'error' | 'timeout'): void {
    if (this.done) return
    this.done = true
    if (this.tail) this.line(this.tail)
    const row = {
      instance_id: this.caller.instanceId,
      user_id: this.caller.userId,
      model: this.model,
      prompt_tokens: this.usage?.prompt_tokens ?? Math.ceil(this.promptChars / 4),
      completion_tokens: this.usage?.completion_tokens ?? Math.ceil(this.streamedChars / 4),
      status,
      duration_ms: Date.now() - this.started,
      created_at: new Date().toISOString(),
    }
    this.store.usage.record(row).catch((err: unknown) => this.log.error({ err }, 'usage not recorded'))
  }
}

/** Records token usage per instance and user. */
export class UsageMeter {
  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  start(caller: Caller, model: string, started: number): UsageCall {
    return new UsageCall(this.store, this.log, caller, model, started)
  }
}
