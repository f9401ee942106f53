import { type FormEvent, useState } from 'react'
import { del, formatTime, get, post } from '../../api'
import {
  ConfirmButton,
  CopyButton,
  Empty,
  ErrorNote,
  Field,
  Spinner,
  useAction,
  useLoad,
} from '../../components/ui'
import type { AdminPlan } from './Plans'

interface Invite {
  code: string
  plan: string
  max_uses: number
  used_count: number
  expires_at: string | null
  created_at: string
}

/** Invite codes: a plan handed out a number of times, until an optional expiry. */
export function InvitesSection() {
  const invites = useLoad((s) => get<Invite[]>('/api/admin/invites', s), [])
  const plans = useLoad((s) => get<AdminPlan[]>('/api/admin/plans', s), [])
  const [plan, setPlan] = useState('')
  const [uses, setUses] = useState('1')
  const [days, setDays] = useState('')
  const { busy, error, run } = useAction()
  const create = async (e: FormEvent) => {
    e.preventDefault()
    const body = {
      ...(plan ? { plan } : {}),
      uses: Number(uses) || 1,
      ...(days ? { expires_in_days: Number(days) } : {}),
    }
    if (await run(() => post('/api/admin/invites', body))) invites.reload()
  }
  return (
    <>
      <form className="card" onSubmit={create} aria-labelledby="new-invite">
        <h2 id="new-invite">New invite code</h2>
        <div className="row">
          <Field label="Plan">
            {(id) => (
              <select id={id} value={plan} onChange={(e) => setPlan(e.target.value)}>
                <option value="">pro (default)</option>
                {plans.data?.map((p) => (
                  <option key={p.name}>{p.name}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Uses">
            {(id) => (
              <input id={id} type="number" min={1} value={uses} onChange={(e) => setUses(e.target.value)} />
            )}
          </Field>
          <Field label="Expires in (days)">
            {(id) => (
              <input
                id={id}
                type="number"
                min={1}
                placeholder="never"
                value={days}
                onChange={(e) => setDays(e.target.value)}
              />
            )}
          </Field>
        </div>
        <button type="submit" className="primary" disabled={busy}>
          Create invite
        </button>
        <ErrorNote error={error ?? invites.error} />
      </form>
      {!invites.data ? (
        <Spinner />
      ) : invites.data.length === 0 ? (
        <Empty>No invite codes yet.</Empty>
      ) : (
        <div className="card table-wrap">
          <table aria-label="Invite codes">
            <thead>
              <tr>
                <th>Code</th>
                <th>Plan</th>
                <th>Used</th>
                <th>Expires</th>
                <th>
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {invites.data.map((i) => (
                <tr key={i.code}>
                  <td>
                    <code>{i.code}</code>
                  </td>
                  <td>{i.plan}</td>
                  <td>
                    {i.used_count} / {i.max_uses}
                  </td>
                  <td className="muted">{i.expires_at ? formatTime(i.expires_at) : 'never'}</td>
                  <td>
                    <div className="row end">
                      <CopyButton text={i.code} />
                      <ConfirmButton
                        className="small danger"
                        danger
                        title="Delete this invite code?"
                        message="It can no longer be redeemed. Accounts that used it keep their plan."
                        confirmLabel="Delete"
                        onConfirm={() =>
                          void run(async () => {
                            await del(`/api/admin/invites/${i.code}`)
                            invites.reload()
                          })
                        }
                      >
                        Delete
                      </ConfirmButton>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  )
}
