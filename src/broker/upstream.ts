/** The upstream a model call goes to, with its credentials (never sent into an instance). */
export interface Upstream {
  baseUrl: string
  apiKey?: string
  model: string
  source: 'user' | 'operator'
}

/** Where the broker learns a user's upstreams (their own model settings, else the operator's). */
export interface UpstreamSource {
  /** The upstream for a user's calls, or undefined when none is configured. */
  upstreamFor(userId: string): Promise<Upstream | undefined>
  /** The upstream for a user's embeddings, or undefined when none is configured. */
  embeddingUpstreamFor(userId: string): Promise<Upstream | undefined>
}

/** How to configure a model, for `model_not_configured` answers. */
export const HOW_TO_CONFIGURE_MODEL =
  'No model is configured. The operator sets CLAWPORT_LLM_BASE_URL and CLAWPORT_LLM_MODEL (and CLAWPORT_LLM_API_KEY) for everyone, or you set your own with PUT /api/me/model {"base_url", "model", "api_key"}.'

/** How to configure an embedding model, for `embedding_model_not_configured` answers. */
export const HOW_TO_CONFIGURE_EMBEDDINGS =
  'No embedding model is configured, so memory search uses keywords only. The operator sets CLAWPORT_EMBEDDING_MODEL (and CLAWPORT_EMBEDDING_BASE_URL, CLAWPORT_EMBEDDING_API_KEY when it is not at the chat model\'s URL) for everyone, or you add "embedding_model" to PUT /api/me/model.'
