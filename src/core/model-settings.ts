import { z } from 'zod'
import { assertPublicUrl } from '../broker/egress.js'
import type { Upstream, UpstreamSource } from '../broker/upstream.js'
import type { BrokerConfig } from '../config.js'
import type { Store } from '../store/index.js'
import type { SecretBox } from './secret-box.js'

/** What a user may set for their own model (PUT /api/me/model). */
export const ModelSettingsInput = z.object({
  base_url: z.url(),
  model: z.string().min(1).max(200),
  api_key: z.string().min(1).max(4096).optional(),
  /** An embedding model at the same URL (memory search); without one, the operator's if any. */
  embedding_model: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('An embedding model at the same URL, with the same key, for the agent’s memory search'),
})
export type ModelSettingsInput = z.infer<typeof ModelSettingsInput>

/** What a user sees of their settings: never the key itself. */
export const ModelSettingsView = z.object({
  source: z.enum(['user', 'operator', 'none']),
  base_url: z.string().nullable(),
  model: z.string().nullable(),
  api_key_set: z.boolean(),
  /** The embedding model memory search uses, and whose it is; none: keyword search only. */
  embedding_model: z
    .string()
    .nullable()
    .describe('The embedding model memory search uses; null: keyword only'),
  embedding_source: z.enum(['user', 'operator', 'none']).describe('Whose embedding model it is'),
})
export type ModelSettingsView = z.infer<typeof ModelSettingsView>

/** Who is looking at model settings: administrators also see the operator's. */
export interface Viewer {
  admin: boolean
}

/** Per-user model settings over the operator's default; keys sealed with the data folder's key. */
export class ModelSettings implements UpstreamSource {
  constructor(
    private readonly store: Store,
    private readonly config: Pick<BrokerConfig, 'llm' | 'embedding' | 'modelPrivateUrls'>,
    private readonly box: SecretBox,
  ) {}

  /** The upstream for a user's calls, or undefined when none is configured. */
  upstreamFor(userId: string): Promise<Upstream | undefined> {
    return this.lookup(userId, 'llm_model', this.config.llm)
  }

  /** The upstream for a user's embeddings: their own, else the operator's, else undefined. */
  embeddingUpstreamFor(userId: string): Promise<Upstream | undefined> {
    return this.lookup(userId, 'llm_embedding_model', this.config.embedding)
  }

  /** The user's own upstream when they set its URL and this model, else the operator's, else none. */
  private async lookup(
    userId: string,
    modelColumn: 'llm_model' | 'llm_embedding_model',
    operator: BrokerConfig['llm'],
  ): Promise<Upstream | undefined> {
    const row = await this.store.userSettings.get(userId)
    const model = row?.[modelColumn]
    if (row?.llm_base_url && model) {
      return {
        baseUrl: row.llm_base_url,
        model,
        apiKey: row.llm_api_key_enc ? this.box.open(row.llm_api_key_enc) : undefined,
        source: 'user',
      }
    }
    const { baseUrl, apiKey, model: operatorModel } = operator
    if (baseUrl && operatorModel) return { baseUrl, apiKey, model: operatorModel, source: 'operator' }
    return undefined
  }

  /**
   * What a user sees of the model their instances use. The operator's URL, model and whether it
   * has a key are the server's configuration: only administrators see them; others see only
   * that the operator's model applies (`source: 'operator'`).
   */
  async view(userId: string, viewer: Viewer): Promise<ModelSettingsView> {
    const row = await this.store.userSettings.get(userId)
    const op = this.config.embedding
    const embedding: Pick<ModelSettingsView, 'embedding_model' | 'embedding_source'> =
      row?.llm_base_url && row.llm_embedding_model
        ? { embedding_model: row.llm_embedding_model, embedding_source: 'user' }
        : op.baseUrl && op.model
          ? { embedding_model: op.model, embedding_source: 'operator' }
          : { embedding_model: null, embedding_source: 'none' }
    if (row?.llm_base_url && row.llm_model)
      return {
        source: 'user',
        base_url: row.llm_base_url,
        model: row.llm_model,
        api_key_set: !!row.llm_api_key_enc,
        ...embedding,
      }
    const { baseUrl, model, apiKey } = this.config.llm
    if (baseUrl && model)
      return viewer.admin
        ? { source: 'operator', base_url: baseUrl, model, api_key_set: !!apiKey, ...embedding }
        : { source: 'operator', base_url: null, model: null, api_key_set: false, ...embedding }
    return { source: 'none', base_url: null, model: null, api_key_set: false, ...embedding }
  }

  /** Saves a user's own model; without `api_key`, a key saved for the same URL is kept. */
  async put(userId: string, input: ModelSettingsInput, viewer: Viewer): Promise<ModelSettingsView> {
    if (!this.config.modelPrivateUrls) assertPublicUrl(input.base_url)
    const baseUrl = input.base_url.replace(/\/+$/, '')
    const saved = await this.store.userSettings.get(userId)
    // A saved key only ever goes to the URL it was saved for.
    const keptKey = saved?.llm_base_url === baseUrl ? (saved.llm_api_key_enc ?? null) : null
    await this.store.userSettings.put({
      user_id: userId,
      llm_base_url: baseUrl,
      llm_model: input.model,
      llm_api_key_enc: input.api_key ? this.box.seal(input.api_key) : keptKey,
      llm_embedding_model: input.embedding_model ?? null,
      updated_at: new Date().toISOString(),
    })
    return this.view(userId, viewer)
  }

  async clear(userId: string, viewer: Viewer): Promise<ModelSettingsView> {
    await this.store.userSettings.remove(userId)
    return this.view(userId, viewer)
  }
}
