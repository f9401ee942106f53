/**
 * The boundary between chat (sessions, history, streams) and the agent that answers turns:
 * the OpenClaw gateway inside an instance, reached through its clawlet.
 */

/** One thing that happened during a turn, in order. */
export type TurnEvent =
  | { type: 'delta'; text: string }
  | {
      type: 'tool'
      /** Stable id of the tool call within the turn, when the agent gives one. */
      call_id?: string
      name: string
      status: 'started' | 'completed' | 'failed'
      arguments?: unknown
      result?: unknown
    }
  | { type: 'done'; text: string; usage?: { prompt_tokens?: number; completion_tokens?: number } }
  | { type: 'error'; code: string; message: string }

export interface TurnInput {
  instanceId: string
  /** Stable OpenClaw session key for the Clawport session; only the new message is sent. */
  sessionKey: string
  message: string
  signal: AbortSignal
}

/** Runs agent turns. Ends every turn with exactly one `done` or `error` event. */
export interface AgentRunner {
  runTurn(input: TurnInput): AsyncIterable<TurnEvent>
}
