import { get } from '../api'
import { Empty, ErrorNote, Spinner, useLoad } from '../components/ui'
import { Link, navigate, useTitle } from '../router'
import { PipelineDetail } from './automation/PipelineDetail'
import { flatSteps, type Pipeline } from './automation/types'
import './automation/automation.css'

function PipelineList() {
  useTitle('Pipelines')
  const { data, error } = useLoad((signal) => get<Pipeline[]>('/api/pipelines', signal), [])
  return (
    <section>
      <h1>Pipelines</h1>
      <p className="muted">
        Steps that run in order on your instances and swarms: by hand, on a schedule or from a webhook. Create
        them through the API (<Link href="/docs">docs</Link>); run and follow them here.
      </p>
      <ErrorNote error={error} />
      {!data ? (
        <Spinner />
      ) : data.length === 0 ? (
        <Empty>No pipelines yet. Create one with POST /api/pipelines.</Empty>
      ) : (
        <div className="card table-wrap">
          <table aria-label="Your pipelines">
            <thead>
              <tr>
                <th>Name</th>
                <th>Steps</th>
                <th className="hide-narrow">Triggers</th>
                <th className="hide-narrow">Created</th>
                <th>
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.map((p) => (
                <tr key={p.id} data-pipeline={p.id}>
                  <td>
                    <Link href={`/pipelines/${p.id}`}>{p.name}</Link>
                  </td>
                  <td>{flatSteps(p.steps).length}</td>
                  <td className="muted hide-narrow">
                    {['manual', p.schedule && `schedule ${p.schedule}`, p.webhook && 'webhook']
                      .filter(Boolean)
                      .join(', ')}
                  </td>
                  <td className="muted hide-narrow">{new Date(p.created_at).toLocaleString()}</td>
                  <td>
                    <div className="row end">
                      <button type="button" className="small" onClick={() => navigate(`/pipelines/${p.id}`)}>
                        Open
                      </button>
                    </div>
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

export function PipelinesPage({ id }: { id?: string }) {
  return id ? <PipelineDetail id={id} /> : <PipelineList />
}
