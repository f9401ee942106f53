import { type ReactNode, useState } from 'react'
import { del, formatTime, get, post } from '../../api'
import { ConfirmButton, CopyButton, Empty, ErrorNote, Spinner, useAction, useLoad } from '../../components/ui'
import { usePoll } from '../../poll'
import { Link, navigate, useTitle } from '../../router'
import { PipelineEditor } from './PipelineEditor'
import { RunBadge } from './RunBadge'
import { RunView } from './RunView'
import { TargetLink, type Targets, useTargets } from './targets'
import { flatSteps, formatDuration, isFinished, type Pipeline, type PipelineRun } from './types'

function StepDetail({ s, targets }: { s: ReturnType<typeof flatSteps>[number]['step']; targets?: Targets }) {
  if (s.type === 'exec') return <code>{s.command ?? ''}</code>
  if (s.type === 'chat') return <code>{s.message ?? ''}</code>
  if (s.type === 'copy' && s.from && s.to)
    return (
      <>
        <TargetLink target={s.from} targets={targets} />:<code>{s.from.path}</code> →{' '}
        <TargetLink target={s.to} targets={targets} />:<code>{s.to.path}</code>
      </>
    )
  return null
}

/** A webhook URL with its secret, which the server shows only once. */
export function WebhookNote({ url, children }: { url: string; children: ReactNode }) {
  return (
    <div className="card" role="status">
      <p>{children} Its webhook URL, shown only now (it holds the secret): POST to it to start a run.</p>
      <div className="row">
        <code className="grow" data-webhook-url>
          {url}
        </code>
        <CopyButton text={url} />
      </div>
    </div>
  )
}

function Steps({ pipeline, targets }: { pipeline: Pipeline; targets?: Targets }) {
  const steps = flatSteps(pipeline.steps)
  return (
    <div className="card table-wrap">
      <h2 id="steps-title">Steps</h2>
      <table aria-labelledby="steps-title">
        <thead>
          <tr>
            <th>Stage</th>
            <th>Step</th>
            <th>Type</th>
            <th className="hide-narrow">Runs on</th>
            <th>Does</th>
          </tr>
        </thead>
        <tbody>
          {steps.map(({ step, stage }) => (
            <tr key={step.name}>
              <td className="muted">{stage + 1}</td>
              <td>{step.name}</td>
              <td>{step.type}</td>
              <td className="hide-narrow">
                {step.type === 'copy' ? '—' : <TargetLink target={step} targets={targets} />}
              </td>
              <td>
                <StepDetail s={step} targets={targets} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function Triggers({ pipeline }: { pipeline: Pipeline }) {
  return (
    <div className="card">
      <h2>Triggers</h2>
      <ul>
        <li>By hand: the Start run button, or POST /api/pipelines/{pipeline.id}/runs</li>
        {pipeline.schedule && (
          <li>
            Schedule <code>{pipeline.schedule}</code> (UTC), next at {formatTime(pipeline.next_run_at)}
          </li>
        )}
        {pipeline.webhook && <li>Webhook: its URL (with its secret) was shown when the pipeline was made</li>}
      </ul>
    </div>
  )
}

/** One pipeline: its steps and triggers, its runs, and the chosen run followed live. */
export function PipelineDetail({ id }: { id: string }) {
  const pipeline = useLoad((signal) => get<Pipeline>(`/api/pipelines/${id}`, signal), [id])
  const runs = useLoad((signal) => get<PipelineRun[]>(`/api/pipelines/${id}/runs?limit=20`, signal), [id])
  const targets = useTargets()
  const [selected, setSelected] = useState<string | undefined>(undefined)
  const [editing, setEditing] = useState(false)
  const [webhookUrl, setWebhookUrl] = useState<string | undefined>(undefined)
  const { busy, error, run } = useAction()
  useTitle(pipeline.data?.name ?? 'Pipeline')

  const active = runs.data?.some((r) => !isFinished(r.status)) ?? false
  usePoll(runs.reload, active, 1500, 10_000)

  const start = async () => {
    const r = await run(() => post<PipelineRun>(`/api/pipelines/${id}/runs`))
    if (r) {
      setSelected(r.id)
      runs.reload()
    }
  }
  const shown = selected ?? runs.data?.[0]?.id

  if (pipeline.error) return <ErrorNote error={pipeline.error} />
  if (!pipeline.data) return <Spinner />
  const p = pipeline.data
  return (
    <section>
      <p>
        <Link href="/pipelines">← Pipelines</Link>
      </p>
      <div className="row">
        <h1 className="grow">{p.name}</h1>
        <button type="button" className="primary" disabled={busy} onClick={() => void start()}>
          {busy ? 'Starting…' : 'Start run'}
        </button>
        <button type="button" className="secondary" disabled={editing} onClick={() => setEditing(true)}>
          Edit
        </button>
        <ConfirmButton
          danger
          disabled={busy}
          title={`Delete the pipeline ${p.name}?`}
          message={<p>The pipeline and all its runs are deleted; a run in progress is canceled.</p>}
          confirmLabel="Delete pipeline"
          onConfirm={() =>
            void run(async () => {
              await del(`/api/pipelines/${id}`)
              navigate('/pipelines')
            })
          }
        >
          Delete
        </ConfirmButton>
      </div>
      <ErrorNote error={error} />
      {editing && (
        <PipelineEditor
          pipeline={p}
          onCancel={() => setEditing(false)}
          onSaved={(saved) => {
            setEditing(false)
            setWebhookUrl(saved.webhook_url)
            pipeline.setData(saved)
            targets.reload()
          }}
        />
      )}
      {webhookUrl && <WebhookNote url={webhookUrl}>Saved.</WebhookNote>}
      <Steps pipeline={p} targets={targets.data} />
      <Triggers pipeline={p} />
      <div className="card table-wrap">
        <h2 id="runs-title">Runs</h2>
        <ErrorNote error={runs.error} />
        {!runs.data ? (
          <Spinner />
        ) : runs.data.length === 0 ? (
          <Empty>No runs yet.</Empty>
        ) : (
          <table aria-labelledby="runs-title">
            <thead>
              <tr>
                <th>Run</th>
                <th>Status</th>
                <th className="hide-narrow">Trigger</th>
                <th className="hide-narrow">Started</th>
                <th>Took</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.map((r) => (
                <tr key={r.id} data-run={r.id} className={r.id === shown ? 'selected' : undefined}>
                  <td>
                    <button
                      type="button"
                      className="small secondary mono"
                      aria-pressed={r.id === shown}
                      aria-label={`Show run ${r.id.slice(0, 8)}`}
                      onClick={() => setSelected(r.id)}
                    >
                      {r.id.slice(0, 8)}
                    </button>
                  </td>
                  <td>
                    <RunBadge status={r.status} />
                  </td>
                  <td className="muted hide-narrow">{r.trigger}</td>
                  <td className="muted hide-narrow">{formatTime(r.started_at ?? r.created_at)}</td>
                  <td className="muted">
                    {r.started_at && r.finished_at
                      ? formatDuration(Date.parse(r.finished_at) - Date.parse(r.started_at))
                      : '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      {shown && (
        <RunView
          key={shown}
          pipeline={p}
          targets={targets.data}
          pipelineId={id}
          runId={shown}
          onChange={runs.reload}
        />
      )}
    </section>
  )
}
