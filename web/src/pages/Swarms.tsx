import { type FormEvent, useState } from 'react'
import { del, get, post } from '../api'
import { useAuth } from '../auth'
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
import { Link, useTitle } from '../router'
import { Broadcast } from './automation/Broadcast'
import { type MemberSpec, MemberSpecs, resized, specsBody } from './automation/MemberSpecs'
import type { Swarm } from './automation/types'
import './automation/automation.css'

/** Polls the swarms: every second while a member is changing state, every 5 s otherwise. */
function useSwarms() {
  const res = useLoad((signal) => get<Swarm[]>('/api/swarms', signal), [])
  usePoll(res.reload, res.data?.some((s) => s.members.some((m) => BUSY_STATUSES.has(m.status))) ?? false)
  return res
}

function CreateForm({ onCreated }: { onCreated: () => void }) {
  const { refresh } = useAuth()
  const [name, setName] = useState('')
  const [size, setSize] = useState('2')
  const [specs, setSpecs] = useState<MemberSpec[]>(() => resized([], 2))
  const { busy, error, run } = useAction()
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const created = await run(() =>
      post<Swarm>('/api/swarms', { name: name.trim(), size: Number(size), members: specsBody(specs) }),
    )
    if (created) {
      setName('')
      setSpecs(resized([], Number(size)))
      onCreated()
      void refresh()
    }
  }
  return (
    <form className="card" onSubmit={submit} aria-labelledby="create-swarm-title">
      <h2 id="create-swarm-title">New swarm</h2>
      <div className="row">
        <div className="grow">
          <Field label="Swarm name">
            {(id) => (
              <input
                id={id}
                value={name}
                required
                maxLength={100}
                onChange={(e) => setName(e.target.value)}
              />
            )}
          </Field>
        </div>
        <Field label="Members">
          {(id) => (
            <input
              id={id}
              type="number"
              min={1}
              max={100}
              required
              value={size}
              onChange={(e) => {
                setSize(e.target.value)
                setSpecs((s) => resized(s, Number(e.target.value)))
              }}
            />
          )}
        </Field>
      </div>
      <MemberSpecs specs={specs} first={1} onChange={setSpecs} />
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create swarm'}
      </button>
      <ErrorNote error={error} />
    </form>
  )
}

function ScaleForm({ swarm, onChange }: { swarm: Swarm; onChange: () => void }) {
  const [size, setSize] = useState(String(swarm.size))
  // Members added by growing get a role and instructions like those made with the swarm.
  const [specs, setSpecs] = useState<MemberSpec[]>([])
  const { busy, error, run } = useAction()
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const body = { size: Number(size), ...(specs.length ? { members: specsBody(specs) } : {}) }
    const done = await run(() => post<Swarm>(`/api/swarms/${swarm.id}/scale`, body))
    if (done) onChange()
  }
  return (
    <form onSubmit={submit} aria-label={`Scale ${swarm.name}`}>
      <div className="row scale-form">
        <Field label="Size">
          {(id) => (
            <input
              id={id}
              type="number"
              min={0}
              max={100}
              required
              value={size}
              onChange={(e) => {
                setSize(e.target.value)
                setSpecs((s) => resized(s, Number(e.target.value) - swarm.size))
              }}
            />
          )}
        </Field>
        <button type="submit" className="secondary" disabled={busy || Number(size) === swarm.size}>
          {busy ? 'Scaling…' : 'Scale'}
        </button>
      </div>
      <MemberSpecs specs={specs} first={swarm.size + 1} onChange={setSpecs} />
      <ErrorNote error={error} />
    </form>
  )
}

function SwarmCard({ swarm, onChange }: { swarm: Swarm; onChange: () => void }) {
  const { refresh } = useAuth()
  const { busy, error, run } = useAction()
  const titleId = `swarm-${swarm.id}`
  return (
    <article className="card" aria-labelledby={titleId} data-swarm={swarm.id}>
      <div className="row">
        <h2 id={titleId} className="grow">
          {swarm.name}{' '}
          <span className="muted">
            · {swarm.size} member{swarm.size === 1 ? '' : 's'}
          </span>
        </h2>
        <ConfirmButton
          className="danger small"
          danger
          disabled={busy}
          title={`Delete the swarm ${swarm.name}?`}
          message={<p>Every member's instance and workspace is destroyed. This cannot be undone.</p>}
          confirmLabel="Delete swarm"
          onConfirm={() =>
            void run(async () => {
              await del(`/api/swarms/${swarm.id}`)
              onChange()
              void refresh()
            })
          }
        >
          Delete
        </ConfirmButton>
      </div>
      <ErrorNote error={error} />
      {swarm.members.length === 0 ? (
        <Empty>No members. Scale up to add some.</Empty>
      ) : (
        <div className="table-wrap">
          <table aria-label={`Members of ${swarm.name}`}>
            <thead>
              <tr>
                <th>#</th>
                <th>Member</th>
                <th>Role</th>
                <th className="hide-narrow">Instructions</th>
                <th>Status</th>
              </tr>
            </thead>
            <tbody>
              {swarm.members.map((m) => (
                <tr key={m.instance_id} data-member={m.instance_id}>
                  <td className="muted">{m.position + 1}</td>
                  <td>
                    <Link href={`/instances/${m.instance_id}`}>{m.name || m.instance_id.slice(0, 8)}</Link>
                  </td>
                  <td>{m.role ?? <span className="muted">—</span>}</td>
                  <td className="hide-narrow member-instructions">
                    {m.instructions ?? <span className="muted">—</span>}
                  </td>
                  <td>
                    <StatusBadge status={m.status} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ScaleForm key={swarm.size} swarm={swarm} onChange={onChange} />
      <Broadcast swarm={swarm} />
    </article>
  )
}

export function SwarmsPage() {
  useTitle('Swarms')
  const { data, error, reload } = useSwarms()
  return (
    <section>
      <h1>Swarms</h1>
      <p className="muted">Named groups of instances that take one message for all and work together.</p>
      <CreateForm onCreated={reload} />
      <ErrorNote error={error} />
      {!data ? (
        <Spinner />
      ) : data.length === 0 ? (
        <Empty>No swarms yet. Create one above.</Empty>
      ) : (
        data.map((s) => <SwarmCard key={s.id} swarm={s} onChange={reload} />)
      )}
    </section>
  )
}
