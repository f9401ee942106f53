import { type FormEvent, useEffect, useState } from 'react'
import { del, get, post, put } from '../../api'
import { ErrorNote, Field, useAction, useLoad } from '../../components/ui'

interface ModelView {
  source: 'user' | 'operator' | 'none'
  base_url: string | null
  model: string | null
  api_key_set: boolean
}

interface ModelCheck {
  ok: boolean
  status: number | null
  latency_ms: number
  message: string
}

/** The user's own OpenAI-compatible upstream (the key is stored encrypted), with a connection test. */
export function ModelSettingsCard() {
  const view = useLoad((s) => get<ModelView>('/api/me/model', s), [])
  const [baseUrl, setBaseUrl] = useState('')
  const [model, setModel] = useState('')
  const [apiKey, setApiKey] = useState('')
  const [check, setCheck] = useState<ModelCheck | null>(null)
  const save = useAction()
  const test = useAction()
  useEffect(() => {
    if (!view.data) return
    setBaseUrl(view.data.base_url ?? '')
    setModel(view.data.model ?? '')
  }, [view.data])

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const body = { base_url: baseUrl.trim(), model: model.trim(), ...(apiKey ? { api_key: apiKey } : {}) }
    const saved = await save.run(() => put<ModelView>('/api/me/model', body))
    if (saved) {
      view.setData(saved)
      setApiKey('')
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
  const reset = async () => {
    const v = await save.run(() => del<ModelView>('/api/me/model'))
    if (v) view.setData(v)
  }
  const source = view.data?.source
  return (
    <form className="card" onSubmit={submit} aria-labelledby="model-title">
      <h2 id="model-title">Model</h2>
      <p className="muted">
        {source === 'user'
          ? 'Your instances use your own model upstream.'
          : source === 'operator'
            ? "Your instances use this server's model. Set your own OpenAI-compatible upstream below."
            : 'No model is configured. Set an OpenAI-compatible upstream to chat with your agents.'}
      </p>
      <Field label="Upstream URL" hint="OpenAI-compatible, e.g. https://api.example.com/v1">
        {(id) => (
          <input id={id} type="url" required value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} />
        )}
      </Field>
      <Field label="Model">
        {(id) => <input id={id} required value={model} onChange={(e) => setModel(e.target.value)} />}
      </Field>
      <Field
        label="API key"
        hint={
          view.data?.api_key_set
            ? 'A key is saved; leave empty to keep it'
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
      <div className="row">
        <button type="submit" className="primary" disabled={save.busy}>
          Save
        </button>
        <button type="button" className="secondary" disabled={test.busy} onClick={() => void runTest()}>
          {test.busy ? 'Testing…' : 'Test connection'}
        </button>
        {source === 'user' && (
          <button type="button" className="secondary" disabled={save.busy} onClick={() => void reset()}>
            Use the server's model
          </button>
        )}
      </div>
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
