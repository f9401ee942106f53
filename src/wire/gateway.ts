import { z } from 'zod'
import { ChannelsWire } from './channels.js'

/**
 * The clawlet's wire shapes for the OpenClaw gateway it supervises: its state, the settings
 * the control plane pushes, and the events of an agent turn (NDJSON, one per line).
 */

/** `sleeping`: stopped on purpose (the instance is idle) until the control plane wakes it. */
export const GatewayStatus = z.enum(['disabled', 'starting', 'ready', 'crashed', 'sleeping'])
export type GatewayStatus = z.infer<typeof GatewayStatus>

export const GatewayState = z.object({
  status: GatewayStatus,
  restarts: z.number().int(),
  pid: z.number().int().optional(),
  port: z.number().int().optional(),
  /** When the current process started, and how long it took to become ready. */
  started_at: z.string().optional(),
  ready_ms: z.number().optional(),
  /** Why it is not running or not ready (exit code, missing runtime, ...). */
  error: z.string().optional(),
})
export type GatewayState = z.infer<typeof GatewayState>

/** What the control plane sends to start the gateway; the token never leaves the instance. */
export const GatewaySettings = z.object({
  token: z.string().min(16).max(256),
  /** The instance's chat channels; absent or empty: the gateway starts none. */
  channels: ChannelsWire.optional(),
})
export type GatewaySettings = z.infer<typeof GatewaySettings>

export const TurnRequest = z.object({
  session_key: z.string().min(1).max(200),
  message: z.string().min(1),
})
export type TurnRequest = z.infer<typeof TurnRequest>

/** One event of a turn, the same shape as core's TurnEvent. */
export const WireTurnEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('delta'), text: z.string() }),
  z.object({
    type: z.literal('tool'),
    call_id: z.string().optional(),
    name: z.string(),
    status: z.enum(['started', 'completed', 'failed']),
    arguments: z.unknown().optional(),
    result: z.unknown().optional(),
  }),
  z.object({
    type: z.literal('done'),
    text: z.string(),
    usage: z
      .object({ prompt_tokens: z.number().optional(), completion_tokens: z.number().optional() })
      .optional(),
  }),
  z.object({ type: z.literal('error'), code: z.string(), message: z.string() }),
])
export type WireTurnEvent = z.infer<typeof WireTurnEvent>

/** Loopback port of the gateway inside every instance (each has its own network namespace). */
export const GATEWAY_PORT = 18789
/** Loopback port inside the instance that leads to the control plane's per-instance socket. */
export const CONTROL_PORT = 18790
/** The provider id and model alias the gateway is configured with; the broker maps them. */
export const PROVIDER_ID = 'clawport'
export const MODEL_ALIAS = 'default'
/** The model id the broker serves embeddings under; it maps it to the upstream's real model. */
export const EMBEDDING_MODEL_ALIAS = 'embedding'
