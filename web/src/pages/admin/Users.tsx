import { type FormEvent, Fragment, useState } from 'react'
import { get, patch, post } from '../../api'
import { useAuth } from '../../auth'
import { ErrorNote, Field, PromptButton, Spinner, useAction, useLoad } from '../../components/ui'
import type { AdminPlan } from './Plans'
import { type AdminUser, UserActions, UserInstances } from './UserActions'

function NewUser({ plans, onDone }: { plans: AdminPlan[]; onDone: (email: string) => void }) {
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [plan, setPlan] = useState('')
  const { busy, error, run } = useAction()
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const body = { email, ...(password ? { password } : {}), ...(plan ? { plan } : {}) }
    if (await run(() => post('/api/admin/users', body))) {
      setEmail('')
      setPassword('')
      onDone(email)
    }
  }
  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-user">
      <h2 id="new-user">New user</h2>
      <div className="row">
        <div className="grow">
          <Field label="Email">
            {(id) => (
              <input id={id} type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
            )}
          </Field>
        </div>
        <div className="grow">
          <Field label="Password" hint="At least 8 characters; optional">
            {(id) => (
              <input
                id={id}
                type="password"
                autoComplete="new-password"
                minLength={8}
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            )}
          </Field>
        </div>
        <div>
          <Field label="Plan">
            {(id) => (
              <select id={id} value={plan} onChange={(e) => setPlan(e.target.value)}>
                <option value="">default (inactive)</option>
                {plans.map((p) => (
                  <option key={p.name}>{p.name}</option>
                ))}
              </select>
            )}
          </Field>
        </div>
      </div>
      <button type="submit" className="primary" disabled={busy}>
        Create user
      </button>
      <ErrorNote error={error} />
    </form>
  )
}

/** Every user with plan and usage; change plan, subscription, role or password; disable, delete; open their instances. */
export function UsersSection() {
  const { me } = useAuth()
  const users = useLoad((s) => get<AdminUser[]>('/api/admin/users', s), [])
  const plans = useLoad((s) => get<AdminPlan[]>('/api/admin/plans', s), [])
  const { error, run } = useAction()
  // What the last change did, said once it is saved.
  const [done, setDone] = useState('')
  // Whose instances are shown, under their row.
  const [shown, setShown] = useState<string | undefined>(undefined)
  const act = (action: () => Promise<unknown>, said: string) => {
    setDone('')
    void run(async () => {
      await action()
      users.reload()
      setDone(said)
    })
  }
  const update = (u: AdminUser, body: Record<string, unknown>, said: string) =>
    act(() => patch(`/api/admin/users/${u.id}`, body), said)
  return (
    <>
      <NewUser
        plans={plans.data ?? []}
        onDone={(email) => {
          setDone(`${email} was created.`)
          users.reload()
        }}
      />
      <p role="status" className="ok-text">
        {done}
      </p>
      <ErrorNote error={error ?? users.error} />
      {!users.data ? (
        <Spinner />
      ) : (
        <div className="card table-wrap">
          <table aria-label="Users">
            <thead>
              <tr>
                <th>Email</th>
                <th>Plan</th>
                <th>Subscription active</th>
                <th>Instances</th>
                <th>Admin</th>
                <th>
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.map((u) => (
                <Fragment key={u.id}>
                  <tr data-user={u.email}>
                    <td>
                      {u.email}
                      {!u.has_password && <div className="muted">no password</div>}
                      {u.disabled_at && <div className="error">disabled</div>}
                    </td>
                    <td>
                      <select
                        aria-label={`Plan of ${u.email}`}
                        value={u.plan}
                        onChange={(e) =>
                          update(
                            u,
                            { plan: e.target.value },
                            `${u.email} is on the ${e.target.value} plan now.`,
                          )
                        }
                      >
                        {plans.data?.map((p) => (
                          <option key={p.name}>{p.name}</option>
                        ))}
                      </select>
                    </td>
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Subscription of ${u.email} active`}
                        checked={u.subscription_active}
                        onChange={(e) =>
                          update(
                            u,
                            { subscription_active: e.target.checked },
                            `The subscription of ${u.email} is ${e.target.checked ? 'active' : 'inactive'} now.`,
                          )
                        }
                      />
                    </td>
                    <td>
                      <button
                        type="button"
                        className="small secondary"
                        aria-expanded={shown === u.id}
                        aria-label={`Instances of ${u.email}: ${u.usage.instances} of ${u.instance_limit}`}
                        onClick={() => setShown(shown === u.id ? undefined : u.id)}
                      >
                        {u.usage.instances} / {u.instance_limit}
                      </button>
                    </td>
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`${u.email} is an administrator`}
                        checked={u.is_admin}
                        disabled={u.id === me?.id}
                        onChange={(e) =>
                          update(
                            u,
                            { is_admin: e.target.checked },
                            e.target.checked
                              ? `${u.email} is an administrator now.`
                              : `${u.email} is no longer an administrator.`,
                          )
                        }
                      />
                    </td>
                    <td>
                      <PromptButton
                        className="small secondary"
                        title={`New password for ${u.email}`}
                        label="New password (at least 8 characters)"
                        type="password"
                        minLength={8}
                        submitLabel="Set password"
                        onSubmit={(password) => update(u, { password }, `The password of ${u.email} is set.`)}
                      >
                        Set password
                      </PromptButton>{' '}
                      <UserActions user={u} self={u.id === me?.id} run={act} />
                    </td>
                  </tr>
                  {shown === u.id && (
                    <tr className="sub-row">
                      <td colSpan={6}>
                        <UserInstances user={u} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  )
}
