import { useState } from 'react'
import { ApiError, del, get, post } from '../../api'
import { ConfirmButton, Empty, ErrorNote, Spinner, useAction, useLoad } from '../../components/ui'
import { usePoll } from '../../poll'
import './runners.css'

interface Usage {
  memory_mb: number
  instances: number
}

export interface AdminRunner {
  id: string
  name: string
  address: string
  state: 'active' | 'draining'
  health: 'healthy' | 'unresponsive'
  heartbeat_at: string
  registered_at: string
  version: string
  labels: Record<string, string>
  capacity: Usage
  used: Usage
}

interface RunnersOverview {
  local: { enabled: boolean; used: Usage }
  runners: AdminRunner[]
}

/** How long ago, in the largest whole unit that reads naturally. */
function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  if (s < 120) return `${s} s ago`
  if (s < 7200) return `${Math.floor(s / 60)} min ago`
  if (s < 172_800) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86_400)} days ago`
}

const mb = (n: number) => `${n.toLocaleString('en-US')} MB`
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/** Used against offered, as a sentence and a bar. */
function Use({ runner }: { runner: AdminRunner }) {
  const { used, capacity } = runner
  return (
    <div className="runner-use">
      <span>
        {used.instances} / {capacity.instances} instances
      </span>
      <span>
        {mb(used.memory_mb)} / {mb(capacity.memory_mb)}
      </span>
      <meter
        min={0}
        max={Math.max(capacity.memory_mb, 1)}
        value={used.memory_mb}
        high={capacity.memory_mb * 0.9}
        aria-label={`Memory of ${runner.name}: ${mb(used.memory_mb)} of ${mb(capacity.memory_mb)} reserved`}
      />
    </div>
  )
}

/** The sentence for a failed removal; a runner that holds instances is the usual one. */
function removeError(e: unknown, r: AdminRunner): unknown {
  if (!(e instanceof ApiError) || e.code !== 'runner_has_instances') return e
  const held = r.used.instances > 0 ? ` ${plural(r.used.instances, 'instance')}` : ' instances'
  return new Error(`${r.name} still holds${held}. Delete its instances first, then remove it.`)
}

/** What an administrator does to a runner: drain or undrain it, and remove it after a confirmation. */
function RunnerActions({
  runner: r,
  act,
}: {
  runner: AdminRunner
  act: (fn: () => Promise<unknown>, said: string) => void
}) {
  const path = `/api/admin/runners/${encodeURIComponent(r.id)}`
  return (
    <div className="row runner-actions">
      {r.state === 'active' ? (
        <button
          type="button"
          className="small secondary"
          onClick={() =>
            act(
              () => post(`${path}/drain`),
              `${r.name} is draining: it keeps its instances and takes no new ones.`,
            )
          }
        >
          Drain<span className="visually-hidden"> {r.name}</span>
        </button>
      ) : (
        <button
          type="button"
          className="small secondary"
          onClick={() => act(() => post(`${path}/undrain`), `${r.name} takes new instances again.`)}
        >
          Undrain<span className="visually-hidden"> {r.name}</span>
        </button>
      )}
      <ConfirmButton
        className="small danger"
        danger
        title={`Remove ${r.name}?`}
        message={
          <p>
            Clawport forgets {r.name} and places nothing more on it. A runner that still holds instances
            cannot be removed: delete them first. Starting <code>clawport runner</code> on that host again
            registers it anew.
          </p>
        }
        confirmLabel="Remove runner"
        onConfirm={() =>
          act(async () => {
            try {
              await del(path)
            } catch (e) {
              throw removeError(e, r)
            }
          }, `${r.name} was removed.`)
        }
      >
        Remove<span className="visually-hidden"> {r.name}</span>
      </ConfirmButton>
    </div>
  )
}

/** How to add a host, when none is registered. */
function NoRunners({ localOn }: { localOn: boolean }) {
  return (
    <Empty>
      <p>No runner is registered{localOn ? ': this server runs every instance itself' : ''}.</p>
      <p>
        To run instances on another host, start{' '}
        <code className="runner-command">clawport runner --server URL --token T</code> there, with this
        server&rsquo;s <code>CLAWPORT_DATABASE_URL</code> and its <code>CLAWPORT_RUNNER_TOKEN</code> as the
        token (see &ldquo;Scale out&rdquo; in the README). It shows here once it has registered.
      </p>
    </Empty>
  )
}

/** The hosts that run instances: this server's own share, then every runner with health, load and actions. */
export function RunnersSection() {
  const overview = useLoad((s) => get<RunnersOverview>('/api/admin/runners', s), [])
  usePoll(overview.reload, false, 5000, 5000)
  const { error, run } = useAction()
  // What the last action did, said once it is done.
  const [done, setDone] = useState('')
  const act = (fn: () => Promise<unknown>, said: string) => {
    setDone('')
    void run(async () => {
      try {
        await fn()
        setDone(said)
      } finally {
        overview.reload()
      }
    })
  }
  const data = overview.data
  const now = Date.now()
  return (
    <>
      <p role="status" className="ok-text">
        {done}
      </p>
      <ErrorNote error={error ?? overview.error} />
      {!data ? (
        <Spinner label="Loading the runners" />
      ) : (
        <>
          <section className="card" aria-labelledby="local-instances">
            <h2 id="local-instances">This server</h2>
            <p data-testid="local">
              {data.local.enabled ? (
                <>Takes new instances itself.</>
              ) : (
                <>
                  Takes no new instances itself (<code>CLAWPORT_LOCAL_INSTANCES</code>): they go to the
                  runners.
                </>
              )}{' '}
              Holds {plural(data.local.used.instances, 'instance')}, {mb(data.local.used.memory_mb)} reserved.
            </p>
            {!data.local.enabled &&
              !data.runners.some((r) => r.health === 'healthy' && r.state === 'active') && (
                <p className="error">
                  No runner takes new instances right now, so no instance can be created.
                </p>
              )}
          </section>
          {data.runners.length === 0 ? (
            <NoRunners localOn={data.local.enabled} />
          ) : (
            <div className="card table-wrap">
              <table aria-label="Runners">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Health</th>
                    <th>State</th>
                    <th>Address</th>
                    <th>Use</th>
                    <th>Labels</th>
                    <th>Version</th>
                    <th>
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.runners.map((r) => (
                    <tr key={r.id} data-runner={r.name}>
                      <td className="runner-name">
                        <strong>{r.name}</strong>
                      </td>
                      <td>
                        <span
                          className={`badge ${r.health === 'healthy' ? 'ok' : 'bad'}`}
                          data-health={r.health}
                        >
                          {r.health === 'healthy' ? 'Healthy' : 'Unresponsive'}
                        </span>
                        <div className="muted runner-heartbeat">
                          last heartbeat {ago(r.heartbeat_at, now)}
                        </div>
                      </td>
                      <td>
                        <span
                          className={`badge ${r.state === 'active' ? 'ok' : 'busy'}`}
                          data-state={r.state}
                        >
                          {r.state === 'active' ? 'Active' : 'Draining'}
                        </span>
                      </td>
                      <td className="mono">{r.address}</td>
                      <td>
                        <Use runner={r} />
                      </td>
                      <td>
                        {Object.keys(r.labels).length === 0 ? (
                          <span className="muted">none</span>
                        ) : (
                          <ul className="runner-labels" aria-label={`Labels of ${r.name}`}>
                            {Object.entries(r.labels).map(([k, v]) => (
                              <li key={k} className="mono">
                                {k}={v}
                              </li>
                            ))}
                          </ul>
                        )}
                      </td>
                      <td className="mono">{r.version}</td>
                      <td>
                        <RunnerActions runner={r} act={act} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </>
  )
}
