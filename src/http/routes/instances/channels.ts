import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import {
  AVAILABLE_CHANNELS,
  Channel,
  ChannelPairingRequest,
  ChannelParams,
  PairingParams,
  TelegramSettingsInput,
} from '../../../core/channels/channel-types.js'
import type { Services } from '../../../core/services.js'
import type { ErrorCode } from '../../../errors.js'
import { callerOf } from '../../plugins/auth.js'
import { errorResponses, InstanceParams } from '../../schemas.js'

const TAGS = ['channels']
/** What a pairing call can answer: the channel or request missing, or the channel not running. */
const PAIRING_ERRORS = [
  'instance_not_found',
  'channel_not_found',
  'pairing_request_not_found',
  'instance_not_ready',
  'channel_not_running',
] as const satisfies readonly ErrorCode[]
const APPLIES =
  "Changes apply at the instance's next start (start, or reboot a running one); the state says restart_required until then."

/** An instance's chat channels (Telegram): settings with the token sealed, state, DM pairing. */
export const channelRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { channels } = services

  app.get(
    '/api/instances/:id/channels',
    {
      schema: {
        operationId: 'channels.list',
        summary: "List the instance's chat channels with their state",
        tags: TAGS,
        params: InstanceParams,
        response: { 200: z.array(Channel), ...errorResponses('instance_not_found') },
      },
    },
    async (request) => channels.list(callerOf(request), request.params.id),
  )

  app.get(
    '/api/instances/:id/channels/:name',
    {
      schema: {
        operationId: 'channels.get',
        summary: 'Get one channel and its state',
        tags: TAGS,
        params: ChannelParams,
        response: { 200: Channel, ...errorResponses('instance_not_found', 'channel_not_found') },
      },
    },
    async (request) => channels.get(callerOf(request), request.params.id, request.params.name),
  )

  app.put(
    '/api/instances/:id/channels/:name',
    {
      schema: {
        operationId: 'channels.put',
        summary: `Connect or change a channel (${AVAILABLE_CHANNELS.join(', ')})`,
        description: `The token is stored sealed and never shown again (token_set). ${APPLIES} 422 channel_unsupported for a channel this server has not, channel_settings_invalid or validation_failed for bad settings.`,
        tags: TAGS,
        params: ChannelParams,
        body: TelegramSettingsInput,
        response: {
          200: Channel,
          201: Channel,
          ...errorResponses('instance_not_found', 'channel_unsupported', 'channel_settings_invalid'),
        },
      },
    },
    async (request, reply) => {
      const { id, name } = request.params
      const { channel, created } = await channels.put(callerOf(request), id, name, request.body)
      return reply.status(created ? 201 : 200).send(channel)
    },
  )

  app.delete(
    '/api/instances/:id/channels/:name',
    {
      schema: {
        operationId: 'channels.delete',
        summary: 'Remove a channel and its token',
        description: APPLIES,
        tags: TAGS,
        params: ChannelParams,
        response: {
          204: z.null().describe('Removed'),
          ...errorResponses('instance_not_found', 'channel_not_found'),
        },
      },
    },
    async (request, reply) => {
      await channels.remove(callerOf(request), request.params.id, request.params.name)
      return reply.status(204).send(null)
    },
  )

  app.get(
    '/api/instances/:id/channels/:name/pairing',
    {
      schema: {
        operationId: 'channels.pairing',
        summary: 'List DM pairing requests waiting for approval',
        description:
          'With dm_policy "pairing", a sender the channel does not know gets a code and waits here (an hour at most) until approved. 409 channel_not_running while the agent does not run the channel.',
        tags: TAGS,
        params: ChannelParams,
        response: { 200: z.array(ChannelPairingRequest), ...errorResponses(...PAIRING_ERRORS) },
      },
    },
    async (request) => channels.pairing(callerOf(request), request.params.id, request.params.name),
  )

  for (const action of ['approve', 'dismiss'] as const) {
    app.post(
      `/api/instances/:id/channels/:name/pairing/:request_id/${action}`,
      {
        schema: {
          operationId: `channels.pairing.${action}`,
          summary:
            action === 'approve'
              ? 'Approve a DM pairing request: the sender may then message the agent'
              : 'Dismiss a DM pairing request (the sender may ask again)',
          tags: TAGS,
          params: PairingParams,
          response: { 204: z.null().describe('Done'), ...errorResponses(...PAIRING_ERRORS) },
        },
      },
      async (request, reply) => {
        const { id, name, request_id } = request.params
        await channels.decide(callerOf(request), id, name, request_id, action)
        return reply.status(204).send(null)
      },
    )
  }
}
