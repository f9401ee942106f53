import type { TurnEvent } from '../../src/core/agent.js'

/** The tool events of one tool, called directly or through OpenClaw's tool search (`tool_call`). */
export function toolEvents(events: TurnEvent[], name: string): Array<Extract<TurnEvent, { type: 'tool' }>> {
  const calls = new Set<string>()
  return events.filter((e): e is Extract<TurnEvent, { type: 'tool' }> => {
    if (e.type !== 'tool') return false
    const viaSearch = e.name === 'tool_call' && (e.arguments as { id?: string } | undefined)?.id === name
    if (e.name === name || viaSearch) {
      if (e.call_id) calls.add(e.call_id)
      return true
    }
    return !!e.call_id && calls.has(e.call_id)
  })
}
