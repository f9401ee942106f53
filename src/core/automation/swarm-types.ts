import { z } from 'zod'
import { Instance, InstanceStatus } from '../instance-types.js'
import { InboxMessage } from './inbox-types.js'

export const SwarmMemberSpec = z.object({
  name: z.string().trim().min(1).max(100).optional().describe('Instance name (default <swarm>-<n>)'),
  role: z.string().trim().min(1).max(200).optional(),
  instructions: z
    .string()
    .min(1)
    .max(20_000)
    .optional()
    .describe("Sent to the member's agent once it is ready"),
})
export type SwarmMemberSpec = z.infer<typeof SwarmMemberSpec>

export const SwarmCreateBody = z.object({
  name: z.string().trim().min(1).max(100),
  size: z
    .number()
    .int()
    .min(1)
    .max(100)
    .optional()
    .describe('Members to create (default: one per `members` entry)'),
  members: z
    .array(SwarmMemberSpec)
    .max(100)
    .optional()
    .describe('Role and instructions per member, in order'),
})
export type SwarmCreateBody = z.infer<typeof SwarmCreateBody>

export const SwarmScaleBody = z.object({
  size: z.number().int().min(0).max(100),
  members: z.array(SwarmMemberSpec).max(100).optional().describe('Specs for members added, in order'),
})
export type SwarmScaleBody = z.infer<typeof SwarmScaleBody>

export const SwarmMember = z.object({
  instance_id: z.string(),
  name: z.string().nullable(),
  status: InstanceStatus,
  position: z.number().int(),
  role: z.string().nullable(),
  instructions: z.string().nullable(),
})
export type SwarmMember = z.infer<typeof SwarmMember>

export const Swarm = z
  .object({
    id: z.string(),
    name: z.string(),
    size: z.number().int(),
    members: z.array(SwarmMember),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Swarm' })
export type Swarm = z.infer<typeof Swarm>

export const BroadcastBody = z.object({
  message: z.string().min(1).max(200_000),
  timeout_ms: z
    .number()
    .int()
    .min(1_000)
    .max(3_600_000)
    .optional()
    .describe(
      'How long to wait for the replies (default 10 minutes); members not done by then are reported as they stand',
    ),
})
export type BroadcastBody = z.infer<typeof BroadcastBody>

/** One member's part of a broadcast. */
export const BroadcastResult = z.object({
  instance_id: z.string(),
  message_id: z.string(),
  status: InboxMessage.shape.status,
  reply: z.string().nullable(),
  error: z.string().nullable(),
})
export type BroadcastResult = z.infer<typeof BroadcastResult>

export const BroadcastOutcome = z
  .object({
    broadcast_id: z.string().describe('Also the correlation_id of every message it sent'),
    results: z.array(BroadcastResult),
    replied: z.number().int(),
    failed: z.number().int(),
    pending: z.number().int().describe('Members that had not answered within the timeout'),
  })
  .meta({ id: 'BroadcastOutcome' })
export type BroadcastOutcome = z.infer<typeof BroadcastOutcome>

/** What an instance learns about itself through its door. */
export const SelfInfo = z
  .object({
    instance: Instance,
    swarm: z
      .object({
        id: z.string(),
        name: z.string(),
        position: z.number().int(),
        role: z.string().nullable(),
        instructions: z.string().nullable(),
        size: z.number().int(),
      })
      .nullable(),
    siblings: z.array(Instance.extend({ role: z.string().nullable() })),
  })
  .meta({ id: 'SelfInfo' })
export type SelfInfo = z.infer<typeof SelfInfo>
