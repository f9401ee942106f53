import { useState } from 'react'
import { get } from '../api'
import { Empty, ErrorNote, Spinner, useLoad } from '../components/ui'
import { Link, navigate, useTitle } from '../router'
import { PipelineDetail, WebhookNote } from './automation/PipelineDetail'
import { PipelineEditor } from './automation/PipelineEditor'
import { flatSteps, type Pipeline } from './automation/types'
import './automation/automation.css'

function PipelineList() {
  useTitle('Pipelines')
  const { data, error, reload } = useLoad((signal) => get<Pipeline[]>('/api/pipelines', signal), [])
  const [creating, setCreating] = useState(false)
  // A new pipeline's webhook URL, shown once.
  const [made, setMade] = useState<{ id: string; name: string; url: string } | undefined>(undefined)
  return (
    <section>
      <div className="row">
        <h1 className="grow">Pipelines</h1>
        {!creating && (
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            New pipeline
          </button>
        )}
      </div>
      <p className="muted">
        Steps that run in order on your instances and swarms: by hand, on a schedule or from a webhook.
        Create, edit, run and follow them here, or through the API (<Link href="/docs">docs</Link>).
      </p>
      {creating && (
        <PipelineEditor
          onCancel={() => setCreating(false)}
          onSaved={(p) => {
            setCreating(false)
            if (p.webhook_url) {
              setMade({ id: p.id, name: p.name, url: p.webhook_url })
              reload()
            } else navigate(`/pipelines/${p.id}`)
          }}
        />
      )}
      {made && (
        <WebhookNote url={made.url}>
          <Link href={`/pipelines/${made.id}`}>{made.name}</Link> was created.
        </WebhookNote>
      )}
      <ErrorNote error={error} />
      {!data ? (
        <Spinner />
      ) : data.length === 0 ? (
        <Empty>No pipelines yet. Make one with New pipeline.</Empty>
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
