import { type FormEvent, useState } from 'react'
import { del, formatTime, get, type Instance, type NetworkMode, post } from '../api'
import { useAuth } from '../auth'
import {
  InstanceId,
  InstanceListTools,
  useInstanceFilter,
  useUsageFollowsList,
} from '../components/InstanceList'
import {
  ConfirmButton,
  Empty,
  ErrorNote,
  Field,
  Spinner,
  StatusBadge,
  useAction,
  useLoad,
} from '../components/ui'
import { BUSY_STATUSES, usePoll } from '../poll'
import { Link, navigate, useTitle } from '../router'
import { NETWORK_SHORT, NetworkSelect } from './instance/Network'

/** Polls the instance list: every second while one is changing state, every 5 s otherwise. */
export function useInstances() {
  const res = useLoad((signal) => get<Instance[]>('/api/instances', signal), [])
  usePoll(res.reload, res.data?.some((i) => BUSY_STATUSES.has(i.status)) ?? false)
  return res
}

/** Sleep or wake, reboot, shut down or start, and delete (each but sleep and wake confirmed). */
export function InstanceActions({ inst, onChange }: { inst: Instance; onChange: () => void }) {
  const { busy, error, run } = useAction()
  const { refresh } = useAuth()
  const act = (path: string) =>
    run(async () => {
      await post(`/api/instances/${inst.id}/${path}`)
      onChange()
    })
  const stopped = inst.status === 'stopped' || inst.status === 'error'
  return (
    <fieldset className="row actions" aria-label="Instance actions">
      {inst.status === 'ready' && (
        <button
          type="button"
          className="secondary small"
          disabled={busy}
          title="Stop its agent and desktop until they are needed; files and commands keep working"
          onClick={() => void act('sleep')}
        >
          Sleep
        </button>
      )}
      {inst.status === 'sleeping' && (
        <button type="button" className="secondary small" disabled={busy} onClick={() => void act('wake')}>
          Wake
        </button>
      )}
      {stopped ? (
        <button type="button" className="secondary small" disabled={busy} onClick={() => void act('start')}>
          Start
        </button>
      ) : (
        <>
          <ConfirmButton
            className="secondary small"
            disabled={busy || (inst.status !== 'ready' && inst.status !== 'sleeping')}
            title="Reboot this instance?"
            message="Running commands, terminals and chat turns are interrupted. The workspace is kept."
            confirmLabel="Reboot"
            onConfirm={() => void act('reboot')}
          >
            Reboot
          </ConfirmButton>
          <ConfirmButton
            className="secondary small"
            disabled={busy || BUSY_STATUSES.has(inst.status)}
            title="Shut down this instance?"
            message="It stops using memory and CPU; the workspace is kept and you can start it again."
            confirmLabel="Shut down"
            onConfirm={() => void act('shutdown')}
          >
            Shut down
          </ConfirmButton>
        </>
      )}
      <ConfirmButton
        className="danger small"
        danger
        disabled={busy || inst.status === 'deleting'}
        title={`Delete ${inst.name || inst.id}?`}
        message={<p>Its workspace and chat history are destroyed. This cannot be undone.</p>}
        confirmLabel="Delete for good"
        onConfirm={() =>
          void run(async () => {
            await del(`/api/instances/${inst.id}`)
            onChange()
            // The plan's usage count changes with it.
            void refresh()
          })
        }
      >
        Delete
      </ConfirmButton>
      <ErrorNote error={error} />
    </fieldset>
  )
}

function CreateForm({ onCreated }: { onCreated: () => void }) {
  const { me, refresh } = useAuth()
  const [name, setName] = useState('')
  const [invite, setInvite] = useState('')
  // Unset until the user picks one: the plan's own is the default.
  const [picked, setPicked] = useState<NetworkMode | undefined>(undefined)
  const planNetwork = me?.network ?? 'off'
  const network = picked ?? planNetwork
  const { busy, error, run } = useAction()
  const needsInvite = !me?.subscription_active
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const body: Record<string, string> = { network }
    if (name.trim()) body.name = name.trim()
    if (invite.trim()) body.invite_code = invite.trim()
    const created = await run(() => post<Instance>('/api/instances', body))
    if (created) {
      setName('')
      setInvite('')
      setPicked(undefined)
      onCreated()
      void refresh()
    }
  }
  return (
    <form className="card" onSubmit={submit} aria-labelledby="create-title">
      <h2 id="create-title">New instance</h2>
      <div className="row">
        <div className="grow">
          <Field label="Name (optional)">
            {(id) => <input id={id} value={name} maxLength={100} onChange={(e) => setName(e.target.value)} />}
          </Field>
        </div>
        <div>
          <NetworkSelect value={network} planNetwork={planNetwork} onChange={setPicked} />
        </div>
        {needsInvite && (
          <div className="grow">
            <Field label="Invite code" hint="You have no plan yet; an invite code gives you one">
              {(id) => <input id={id} value={invite} onChange={(e) => setInvite(e.target.value)} />}
            </Field>
          </div>
        )}
      </div>
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create instance'}
        </button>
        {me && (
          <span className="muted">
            {me.usage.instances} of {me.instance_limit} used on plan {me.plan}
          </span>
        )}
      </div>
      <ErrorNote error={error} />
    </form>
  )
}

export function InstancesPage() {
  useTitle('Instances')
  const { data, error, reload } = useInstances()
  const filter = useInstanceFilter(data)
  useUsageFollowsList(data)
  return (
    <section>
      <h1>Instances</h1>
      <CreateForm onCreated={reload} />
      <ErrorNote error={error} />
      {!data ? (
        <Spinner />
      ) : data.length === 0 ? (
        <Empty>No instances yet. Create one above.</Empty>
      ) : (
        <>
          <InstanceListTools {...filter} total={data.length} />
          <div className="card table-wrap">
            <table aria-label="Your instances">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Status</th>
                  <th>Network</th>
                  <th className="hide-narrow">Created</th>
                  <th>
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {filter.shown.map((i) => (
                  <tr key={i.id} data-instance={i.id}>
                    <td className="inst-name">
                      <Link href={`/instances/${i.id}`} title={i.name || i.id}>
                        {i.name || i.id.slice(0, 8)}
                      </Link>
                      <InstanceId id={i.id} />
                      {i.error && <div className="error">{i.error}</div>}
                    </td>
                    <td>
                      <StatusBadge status={i.status} />
                    </td>
                    <td className="muted" data-network={i.network}>
                      {NETWORK_SHORT[i.network]}
                    </td>
                    <td className="muted hide-narrow">
                      <time dateTime={i.created_at}>{formatTime(i.created_at)}</time>
                    </td>
                    <td>
                      <div className="row end inst-actions">
                        <button
                          type="button"
                          className="small"
                          onClick={() => navigate(`/instances/${i.id}`)}
                        >
                          Open
                        </button>
                        <InstanceActions inst={i} onChange={reload} />
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  )
}
