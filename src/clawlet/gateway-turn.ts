import path from 'node:path'
import type { TurnRequest, WireTurnEvent } from '../wire/gateway.js'
import type { GatewaySupervisor } from './gateway.js'
import { deviceIdentity, GatewayConnection, type GatewayEvent, newIdempotencyKey } from './gateway-ws.js'

/** Text of an OpenClaw message (`content` as a string or text parts). */
function messageText(message: unknown): string {
  const content = (message as { content?: unknown } | undefined)?.content
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .map((p) =>
      p && typeof p === 'object' && (p as { type?: unknown }).type === 'text'
        ? String((p as { text?: unknown }).text ?? '')
        : '',
    )
    .join('')
}

/** A tool result as the agent saw it: its text, or the raw value when it has none. */
function toolResult(result: unknown): unknown {
  const text = messageText(result)
  return text || result
}

/**
 * Runs one agent turn on the gateway over its WebSocket protocol (`chat.send`, then the run's
 * `agent` and `chat` events) and emits deltas, tool calls with their arguments and results,
 * then exactly one `done` or `error`. Aborting sends `chat.abort` for the run.
 */
export async function runGatewayTurn(
  gateway: GatewaySupervisor,
  req: TurnRequest,
  emit: (e: WireTurnEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  let ended = false
  const end = (e: WireTurnEvent) => {
    if (ended) return
    ended = true
    emit(e)
  }
  const state = gateway.state()
  const token = gateway.token
  if (state.status !== 'ready' || !token) {
    end({
      type: 'error',
      code: 'gateway_not_ready',
      message: `The instance's agent is ${state.status}${state.error ? `: ${state.error}` : ''}.`,
    })
    return
  }
  let conn: GatewayConnection
  try {
    const identity = deviceIdentity(path.join(gateway.paths.stateDir, 'clawlet-device.json'))
    conn = await GatewayConnection.open(`ws://127.0.0.1:${gateway.port}`, token, identity)
  } catch (err) {
    end({
      type: 'error',
      code: 'gateway_unavailable',
      message: `The instance's agent did not accept the connection: ${(err as Error).message}`,
    })
    return
  }
  let runId: string | undefined
  let finished!: () => void
  const done = new Promise<void>((r) => {
    finished = r
  })
  const finish = (e: WireTurnEvent) => {
    end(e)
    finished()
  }
  const abort = () => {
    if (runId) void conn.request('chat.abort', { sessionKey: req.session_key, runId }).catch(() => {})
  }
  const early: GatewayEvent[] = []
  const onEvent = (e: GatewayEvent) => {
    const p = e.payload ?? {}
    if (!runId) {
      early.push(e)
      return
    }
    if (p.runId !== runId) return
    if (e.event === 'agent') {
      const data = p.data ?? {}
      if (p.stream === 'assistant' && typeof data.delta === 'string' && data.delta)
        emit({ type: 'delta', text: data.delta })
      else if (p.stream === 'tool' && data.phase === 'start')
        emit({
          type: 'tool',
          call_id: data.toolCallId,
          name: String(data.name ?? 'tool'),
          status: 'started',
          arguments: data.args,
        })
      else if (p.stream === 'tool' && data.phase === 'result')
        emit({
          type: 'tool',
          call_id: data.toolCallId,
          name: String(data.name ?? 'tool'),
          status: data.isError ? 'failed' : 'completed',
          arguments: data.args,
          result: toolResult(data.result),
        })
      else if (p.stream === 'lifecycle' && typeof data.error === 'string') {
        // OpenClaw would retry a failed model call for a long time; the broker has already
        // given its own clear answer, so the turn ends here.
        abort()
        finish({ type: 'error', code: 'model_error', message: data.error })
      }
    } else if (e.event === 'chat') {
      if (p.state === 'final') finish({ type: 'done', text: messageText(p.message) })
      else if (p.state === 'error')
        finish({ type: 'error', code: 'model_error', message: p.errorMessage ?? 'The agent run failed.' })
      else if (p.state === 'aborted')
        finish({ type: 'error', code: 'aborted', message: 'The turn was aborted.' })
    }
  }
  conn.onEvent(onEvent)
  conn.onClose((err) =>
    finish({
      type: 'error',
      code: 'gateway_unavailable',
      message: `The connection to the instance's agent was lost: ${err.message}`,
    }),
  )
  const onAbort = () => {
    abort()
    finish({ type: 'error', code: 'aborted', message: 'The turn was aborted.' })
  }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    if (signal.aborted) return onAbort()
    const res = await conn.request('chat.send', {
      sessionKey: req.session_key,
      message: req.message,
      idempotencyKey: newIdempotencyKey(),
    })
    runId = String(res?.runId ?? '')
    if (signal.aborted) abort()
    for (const e of early.splice(0)) onEvent(e)
    await done
  } catch (err) {
    finish({
      type: 'error',
      code: 'gateway_error',
      message: `The instance's agent refused the turn: ${(err as Error).message}`,
    })
  } finally {
    signal.removeEventListener('abort', onAbort)
    // Let chat.abort reach the gateway before the socket closes.
    setTimeout(() => conn.close(), 200).unref()
  }
}
