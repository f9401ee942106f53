import { type FormEvent, useState } from 'react'
import { type ApiKey, del, formatTime, get, post } from '../api'
import { useAuth } from '../auth'
import {
  ConfirmButton,
  CopyButton,
  Empty,
  ErrorNote,
  Field,
  Spinner,
  useAction,
  useLoad,
} from '../components/ui'
import { useTitle } from '../router'
import { ModelSettingsCard } from './account/ModelSettings'

interface Usage {
  calls: number
  prompt_tokens: number
  completion_tokens: number
}

function PlanCard() {
  const { me } = useAuth()
  const usage = useLoad((s) => get<Usage>('/api/me/usage', s), [])
  if (!me) return null
  return (
    <section className="card" aria-labelledby="plan-title">
      <h2 id="plan-title">Plan and usage</h2>
      <div className="grid2">
        <div>
          <div className="muted">Plan</div>
          <div className="stat">{me.plan}</div>
          <div className="muted">{me.subscription_active ? 'active' : 'no active subscription'}</div>
        </div>
        <div>
          <div className="muted">Instances</div>
          <div className="stat">
            {me.usage.instances} / {me.instance_limit}
          </div>
        </div>
        <div>
          <div className="muted">Model tokens</div>
          <div className="stat">
            {usage.data ? (usage.data.prompt_tokens + usage.data.completion_tokens).toLocaleString() : '—'}
          </div>
          <div className="muted">{usage.data ? `${usage.data.calls} model calls` : ''}</div>
        </div>
      </div>
    </section>
  )
}

function KeysCard() {
  const keys = useLoad((s) => get<ApiKey[]>('/api/keys', s), [])
  const [name, setName] = useState('')
  const [created, setCreated] = useState<ApiKey | null>(null)
  const { busy, error, run } = useAction()
  const create = async (e: FormEvent) => {
    e.preventDefault()
    const key = await run(() => post<ApiKey>('/api/keys', { name: name.trim() || 'dashboard' }))
    if (key) {
      setCreated(key)
      setName('')
      keys.reload()
    }
  }
  const revoke = (id: string) =>
    run(async () => {
      await del(`/api/keys/${id}`)
      if (created?.id === id) setCreated(null)
      keys.reload()
    })
  return (
    <section className="card" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <p className="muted">
        Keys let scripts, the CLI and agents use the API as you: <code>Authorization: Bearer sk_live_…</code>.
      </p>
      <form className="row" onSubmit={create}>
        <div className="grow">
          <Field label="Key name">
            {(id) => (
              <input
                id={id}
                value={name}
                maxLength={100}
                placeholder="laptop"
                onChange={(e) => setName(e.target.value)}
              />
            )}
          </Field>
        </div>
        <button type="submit" className="primary" disabled={busy}>
          Create key
        </button>
      </form>
      {created?.key && (
        <div role="status" className="card" aria-label="New API key">
          <strong>Copy your new key now: it is shown this once only.</strong>
          <div className="secret">
            <code className="grow" data-testid="new-key">
              {created.key}
            </code>
            <CopyButton text={created.key} />
          </div>
        </div>
      )}
      <ErrorNote error={error ?? keys.error} />
      {!keys.data ? (
        <Spinner />
      ) : keys.data.length === 0 ? (
        <Empty>No keys.</Empty>
      ) : (
        <div className="table-wrap">
          <table aria-label="Your API keys">
            <thead>
              <tr>
                <th>Name</th>
                <th>Key</th>
                <th>Created</th>
                <th>Last used</th>
                <th>
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.id} data-key={k.id}>
                  <td>{k.name}</td>
                  <td>
                    <code>{k.prefix}…</code>
                  </td>
                  <td className="muted">{formatTime(k.created_at)}</td>
                  <td className="muted">{formatTime(k.last_used_at)}</td>
                  <td>
                    <ConfirmButton
                      className="danger small"
                      danger
                      title={`Revoke "${k.name}"?`}
                      message="Anything using this key stops working at once."
                      confirmLabel="Revoke"
                      onConfirm={() => void revoke(k.id)}
                    >
                      Revoke
                    </ConfirmButton>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}

export function AccountPage() {
  useTitle('Account')
  const { me } = useAuth()
  return (
    <section>
      <h1>Account</h1>
      <p className="muted">Signed in as {me?.email}</p>
      <PlanCard />
      <KeysCard />
      <ModelSettingsCard />
    </section>
  )
}
