import { z } from 'zod'
import type { TerminalSessionInfo } from '../wire/clawlet.js'
import type { InstanceService } from './instances.js'
import type { Actor } from './scope.js'
import type { SleepService } from './sleep/sleep-service.js'
import type { Relay, RelayRegistry } from './socket-relay.js'

/** What a client may ask of a terminal socket. */
export const TerminalQuery = z.object({
  session_id: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe('Reattach to this session (its recent output is replayed)'),
  cols: z.coerce.number().int().min(1).max(1000).optional().describe('Columns (default 80)'),
  rows: z.coerce.number().int().min(1).max(1000).optional().describe('Rows (default 24)'),
})
export type TerminalQuery = z.infer<typeof TerminalQuery>

/** Interactive shells of instances: the sessions live in each instance's clawlet, sockets are relayed. */
export class TerminalService {
  constructor(
    private readonly instances: InstanceService,
    private readonly relays: RelayRegistry,
    private readonly sleep?: SleepService,
  ) {}

  async list(actor: Actor, id: string): Promise<TerminalSessionInfo[]> {
    return (await this.instances.readyClient(actor, id)).terminalSessions()
  }

  async close(actor: Actor, id: string, sessionId: string): Promise<void> {
    await (await this.instances.readyClient(actor, id)).closeTerminalSession(sessionId)
  }

  /**
   * Opens (or reattaches to) a session in the instance before the caller upgrades its client,
   * so an unknown session or an instance that is not ready is answered as plain HTTP.
   */
  async open(actor: Actor, id: string, q: TerminalQuery): Promise<Relay> {
    // The shell needs no agent: a sleeping instance starts waking, the terminal opens at once.
    await this.sleep?.awake(await this.instances.owned(actor, id), 'none')
    const client = await this.instances.readyClient(actor, id)
    const params = new URLSearchParams()
    if (q.session_id) params.set('session_id', q.session_id)
    if (q.cols !== undefined) params.set('cols', String(q.cols))
    if (q.rows !== undefined) params.set('rows', String(q.rows))
    const upstream = await client.openSocket(`/v1/terminal/ws?${params}`)
    return this.relays.add(id.toLowerCase(), upstream)
  }
}
