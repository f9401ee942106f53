import { type FormEvent, useEffect, useState } from 'react'
import { del, get, post, put } from '../../api'
import { useAuth } from '../../auth'
import { ErrorNote, Field, useAction, useLoad } from '../../components/ui'

/** GET /api/me/model: the operator's URL and model come to administrators only. */
interface ModelView {
  source: 'user' | 'operator' | 'none'
  base_url: string | null
  model: string | null
  api_key_set: boolean
  embedding_model: string | null
  embedding_source: 'user' | 'operator' | 'none'
}

interface ModelCheck {
  ok: boolean
  status: number | null
  latency_ms: number
  message: string
}

/** One sentence on which model the user's instances use now. */
function currentModel(view: ModelView | undefined, admin: boolean): string {
  if (!view) return 'Loading…'
  if (view.source === 'user') return `Your instances use your own model, ${view.model} at ${view.base_url}.`
  if (view.source === 'operator')
    return admin && view.model
      ? `Your instances use this server's model, ${view.model} at ${view.base_url} (only administrators see which). Set your own below to use it instead.`
      : "Your instances use this server's model. Set your own below to use it instead."
  return 'No model is configured. Set an OpenAI-compatible upstream to chat with your agents.'
}

/** The user's own OpenAI-compatible upstream (the key is stored encrypted), with a connection test. */
export function ModelSettingsCard() {
  const admin = useAuth().me?.is_admin === true
  const view = useLoad((s) => get<ModelView>('/api/me/model', s), [])
  const [baseUrl, setBaseUrl] = useState('')
  const [model, setModel] = useState('')
  const [apiKey, setApiKey] = useState('')
  const [embedding, setEmbedding] = useState('')
  const [check, setCheck] = useState<ModelCheck | null>(null)
  const [done, setDone] = useState('')
  const save = useAction()
  const test = useAction()
  // The form holds the user's own settings only; the operator's are never pre-filled.
  useEffect(() => {
    const own = view.data?.source === 'user' ? view.data : undefined
    setBaseUrl(own?.base_url ?? '')
    setModel(own?.model ?? '')
    setEmbedding(own && view.data?.embedding_source === 'user' ? (view.data.embedding_model ?? '') : '')
  }, [view.data])

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setDone('')
    const body = {
      base_url: baseUrl.trim(),
      model: model.trim(),
      ...(apiKey ? { api_key: apiKey } : {}),
      ...(embedding.trim() ? { embedding_model: embedding.trim() } : {}),
    }
    const saved = await save.run(() => put<ModelView>('/api/me/model', body))
    if (saved) {
      view.setData(saved)
      setApiKey('')
      setDone('Saved. Your instances use your own model now.')
    }
  }
  const runTest = async () => {
    setCheck(null)
    const body = {
      ...(baseUrl.trim() ? { base_url: baseUrl.trim() } : {}),
      ...(model.trim() ? { model: model.trim() } : {}),
      ...(apiKey ? { api_key: apiKey } : {}),
    }
    const res = await test.run(() => post<ModelCheck>('/api/me/model/test', body))
    if (res) setCheck(res)
  }
  const clear = async () => {
    setDone('')
    const v = await save.run(() => del<ModelView>('/api/me/model'))
    if (!v) return
    view.setData(v)
    setApiKey('')
    setDone(
      v.source === 'operator'
        ? "Cleared. Your instances use this server's model again."
        : 'Cleared. No model is configured now: set one to chat with your agents.',
    )
  }
  const own = view.data?.source === 'user'
  return (
    <form className="card" onSubmit={submit} aria-labelledby="model-title">
      <h2 id="model-title">Model</h2>
      <p className="muted" data-testid="model-current">
        {currentModel(view.data, admin)}
      </p>
      <Field label="Upstream URL" hint="OpenAI-compatible, e.g. https://api.example.com/v1">
        {(id) => (
          <input
            id={id}
            type="url"
            required
            placeholder="https://api.example.com/v1"
            value={baseUrl}
            onChange={(e) => setBaseUrl(e.target.value)}
          />
        )}
      </Field>
      <Field label="Model">
        {(id) => <input id={id} required value={model} onChange={(e) => setModel(e.target.value)} />}
      </Field>
      <Field
        label="API key"
        hint={
          own && view.data?.api_key_set
            ? 'A key is saved for this URL; leave empty to keep it'
            : 'Stored encrypted; never shown again'
        }
      >
        {(id) => (
          <input
            id={id}
            type="password"
            autoComplete="off"
            value={apiKey}
            onChange={(e) => setApiKey(e.target.value)}
          />
        )}
      </Field>
      <Field
        label="Embedding model (optional)"
        hint="At the same URL, for the agent's memory search; applies at an instance's next start"
      >
        {(id) => <input id={id} value={embedding} onChange={(e) => setEmbedding(e.target.value)} />}
      </Field>
      <div className="row">
        <button type="submit" className="primary" disabled={save.busy}>
          Save my model
        </button>
        <button type="button" className="secondary" disabled={test.busy} onClick={() => void runTest()}>
          {test.busy ? 'Testing…' : 'Test connection'}
        </button>
        {own && (
          <button type="button" className="secondary" disabled={save.busy} onClick={() => void clear()}>
            Clear my model
          </button>
        )}
      </div>
      {done && (
        <p role="status" className="ok-text">
          {done}
        </p>
      )}
      {check && (
        <p role="status" className={check.ok ? 'ok-text' : 'error'}>
          {check.ok ? '✓ ' : '✗ '}
          {check.message}
        </p>
      )}
      <ErrorNote error={save.error ?? test.error ?? view.error} />
    </form>
  )
}
