import path from 'node:path'
import { z } from 'zod'
import { instanceEnv } from './exec.js'
import { DEFAULT_LIVENESS_MS } from './gateway.js'
import { DEFAULT_IDLE_TIMEOUT_MS } from './terminal.js'

const DEFAULT_SOCKET = '/run/clawport/clawlet.sock'
/** The shared OpenClaw runtime, bound read-only by the driver. */
const OPENCLAW_ENTRY = '/opt/openclaw/node_modules/openclaw/openclaw.mjs'
const DEFAULT_GEOMETRY = { width: 1280, height: 800 }

/** An empty variable is as good as unset. */
const unset = (v: unknown) => (v === '' ? undefined : v)

/**
 * The variables the driver sets for the clawlet. Only the listening fd is strict (a wrong one
 * could never be served); the others fall back to their defaults, as they always have.
 */
const EnvSchema = z.object({
  CLAWLET_SOCKET: z.string().min(1).catch(DEFAULT_SOCKET),
  CLAWLET_CONTROL_SOCKET: z.string().min(1).optional().catch(undefined),
  CLAWLET_LISTEN_FD: z.preprocess(unset, z.coerce.number().int().min(0).optional()),
  CLAWLET_WORKLOAD_PROCS: z.string().optional(),
  CLAWLET_TERMINAL_IDLE_MS: z.coerce.number().int().positive().catch(DEFAULT_IDLE_TIMEOUT_MS),
  CLAWLET_OPENCLAW_ENTRY: z.string().min(1).catch(OPENCLAW_ENTRY),
  CLAWLET_GATEWAY_LIVENESS_MS: z.coerce.number().int().min(500).catch(DEFAULT_LIVENESS_MS),
  CLAWPORT_DESKTOP: z.enum(['on', 'off']).catch('on'),
  CLAWPORT_DESKTOP_GEOMETRY: z
    .string()
    .optional()
    .transform((raw) => {
      const m = /^(\d+)x(\d+)$/.exec(raw ?? '')
      return m ? { width: Number(m[1]), height: Number(m[2]) } : DEFAULT_GEOMETRY
    }),
})

/** What the clawlet takes from its environment, read once at start and passed on. */
export interface ClawletEnv {
  /** The Unix socket the control plane calls (its folder also holds the clawlet's logs). */
  socketPath: string
  /** The instance's door back to the control plane. */
  controlSocket: string
  /** The socket the driver bound outside the sandbox and handed in; absent: listen on socketPath. */
  listenFd?: number
  /** The workload cgroup's procs files, as the host listed them (CLAWLET_WORKLOAD_PROCS). */
  workloadProcs: string[]
  terminalIdleMs: number
  openclawEntry: string
  /** How often a ready gateway is asked for its health, and how long it has to answer. */
  gatewayLivenessMs: number
  /** The desktop's size; null when CLAWPORT_DESKTOP=off. */
  desktop: { width: number; height: number } | null
  /** The instance's own variables, which commands, terminals and the agent inherit. */
  instanceVars: Record<string, string>
}

/** Parses the clawlet's environment; throws a readable list of what is wrong. */
export function readClawletEnv(env: NodeJS.ProcessEnv): ClawletEnv {
  const parsed = EnvSchema.safeParse(env)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`)
    throw new Error(`invalid clawlet environment:\n${lines.join('\n')}`)
  }
  const e = parsed.data
  return {
    socketPath: e.CLAWLET_SOCKET,
    controlSocket: e.CLAWLET_CONTROL_SOCKET ?? path.join(path.dirname(e.CLAWLET_SOCKET), 'control.sock'),
    listenFd: e.CLAWLET_LISTEN_FD,
    workloadProcs: (e.CLAWLET_WORKLOAD_PROCS ?? '').split(':').filter(Boolean),
    terminalIdleMs: e.CLAWLET_TERMINAL_IDLE_MS,
    openclawEntry: e.CLAWLET_OPENCLAW_ENTRY,
    gatewayLivenessMs: e.CLAWLET_GATEWAY_LIVENESS_MS,
    desktop: e.CLAWPORT_DESKTOP === 'off' ? null : e.CLAWPORT_DESKTOP_GEOMETRY,
    instanceVars: instanceEnv(env),
  }
}
