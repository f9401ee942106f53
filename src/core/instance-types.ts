import { z } from 'zod'
import { NetworkMode } from '../config.js'

export const InstanceStatus = z.enum([
  'provisioning',
  'ready',
  'rebooting',
  'stopping',
  'stopped',
  'starting',
  'error',
  'deleting',
  /** Idle: its gateway and desktop are stopped (exec and files still work) until it is needed. */
  'sleeping',
  /** Its gateway and desktop are starting again; work that needs the agent waits for `ready`. */
  'waking',
])
export type InstanceStatus = z.infer<typeof InstanceStatus>

export const Resources = z.object({
  memory_mb: z.number().int(),
  cpus: z.number(),
  pids_max: z.number().int(),
  disk_mb: z.number().int(),
})

/** The public instance object: the hosted fields first, then ours. */
export const Instance = z.object({
  id: z.uuid(),
  status: InstanceStatus,
  sandbox_id: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  name: z.string().nullable(),
  resources: Resources,
  network: NetworkMode.describe(
    'What the sandbox may reach: "public" the internet (never the host, private ranges or other instances), "allowlist" only what allowed_hosts resolve to (within public), "off" nothing',
  ),
  allowed_hosts: z
    .array(z.string())
    .describe(
      'Host names an "allowlist" network reaches: exact, or "*.pythonhosted.org" for the names below it',
    ),
  started_at: z.string().nullable(),
  error: z.string().nullable(),
})
export type Instance = z.infer<typeof Instance>

const Readiness = z.object({ status: z.string(), detail: z.string().optional() })

/** What GET /instances/{id}/status answers: each part's readiness. */
export const InstanceStatusDetail = z.object({
  id: z.uuid(),
  status: InstanceStatus,
  ready: z.boolean(),
  uptime_ms: z.number().nullable(),
  sandbox: z.object({
    running: z.boolean(),
    pid: z.number().int().optional(),
    started_at: z.string().optional(),
    reason: z.string().optional(),
  }),
  clawlet: z.object({ ok: z.boolean(), latency_ms: z.number().optional(), error: z.string().optional() }),
  gateway: Readiness.extend({
    restarts: z.number().int().optional(),
    pid: z.number().int().optional(),
    ready_ms: z.number().optional().describe('How long its last (re)start took to become ready'),
  }),
  desktop: Readiness.extend({
    width: z.number().int().optional(),
    height: z.number().int().optional(),
    ready_ms: z.number().optional().describe('How long its last (re)start took to accept connections'),
    restarts: z.number().int().optional(),
  }),
  error: z.string().nullable(),
})
export type InstanceStatusDetail = z.infer<typeof InstanceStatusDetail>
