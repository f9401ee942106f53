import { useEffect, useState } from 'react'
import { apiHeaders, errorOf, formatTime, get, post } from '../../api'
import { ConfirmButton, ErrorNote, messageOf, Spinner, useAction } from '../../components/ui'
import { readSse } from '../instance/chat/sse'
import { RunBadge } from './RunBadge'
import { TargetLink, type Targets } from './targets'
import {
  flatSteps,
  formatDuration,
  isFinished,
  type Pipeline,
  type PipelineRun,
  type StepState,
} from './types'

/** Follows a run over its SSE events until it finishes; falls back to polling if the stream fails. */
function useRun(pipelineId: string, runId: string, onChange: () => void) {
  const [run, setRun] = useState<PipelineRun | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  const [live, setLive] = useState(false)
  useEffect(() => {
    const ctl = new AbortController()
    const base = `/api/pipelines/${pipelineId}/runs/${runId}`
    const follow = async () => {
      const res = await fetch(`${base}/events`, {
        headers: apiHeaders({ accept: 'text/event-stream' }),
        credentials: 'same-origin',
        signal: ctl.signal,
      })
      if (!res.ok || !res.body) throw await errorOf(res)
      setLive(true)
      for await (const ev of readSse(res.body, ctl.signal)) {
        if (ev.event === 'run') {
          const r = JSON.parse(ev.data) as PipelineRun
          setRun(r)
          if (isFinished(r.status)) onChange()
        } else if (ev.event === 'step') {
          const s = JSON.parse(ev.data) as StepState
          setRun((r) => r && { ...r, steps: r.steps.map((x) => (x.name === s.name ? s : x)) })
        }
      }
    }
    const poll = async () => {
      for (;;) {
        const r = await get<PipelineRun>(base, ctl.signal)
        setRun(r)
        if (isFinished(r.status)) return onChange()
        await new Promise((ok) => setTimeout(ok, 1000))
      }
    }
    follow()
      .catch(() => (ctl.signal.aborted ? undefined : poll()))
      .catch((e: unknown) => {
        if (!ctl.signal.aborted) setError(messageOf(e))
      })
      .finally(() => setLive(false))
    return () => ctl.abort()
  }, [pipelineId, runId, onChange])
  return { run, setRun, error, live }
}

/** Where a step of the run ran: its instance (both ends of a copy), by name, with a link. */
function StepWhere({ name, pipeline, targets }: { name: string; pipeline?: Pipeline; targets?: Targets }) {
  const step = pipeline && flatSteps(pipeline.steps).find((s) => s.step.name === name)?.step
  if (!step) return null
  if (step.type === 'copy' && step.from && step.to)
    return (
      <div>
        <TargetLink target={step.from} targets={targets} /> →{' '}
        <TargetLink target={step.to} targets={targets} />
      </div>
    )
  return (
    <div>
      on <TargetLink target={step} targets={targets} />
    </div>
  )
}

/** A run: its status and every step with status, where it ran, output, timing, attempts and error; cancel. */
export function RunView({
  pipelineId,
  runId,
  onChange,
  pipeline,
  targets,
}: {
  pipelineId: string
  runId: string
  onChange: () => void
  /** The pipeline as it is now, to name where each step runs. */
  pipeline?: Pipeline
  targets?: Targets
}) {
  const { run, setRun, error, live } = useRun(pipelineId, runId, onChange)
  const cancel = useAction()
  if (error) return <ErrorNote error={error} />
  if (!run) return <Spinner label="Loading the run" />
  const doCancel = () =>
    void cancel.run(async () => {
      setRun(await post<PipelineRun>(`/api/pipelines/${pipelineId}/runs/${runId}/cancel`))
      onChange()
    })
  return (
    <section className="card" aria-labelledby="run-title" data-run-view={run.id}>
      <div className="row">
        <h2 id="run-title" className="grow">
          Run <span className="mono">{run.id.slice(0, 8)}</span> <RunBadge status={run.status} />
          {live && !isFinished(run.status) && <span className="muted small"> ● live</span>}
        </h2>
        {!isFinished(run.status) && (
          <ConfirmButton
            className="danger small"
            danger
            disabled={cancel.busy}
            title="Cancel this run?"
            message="Steps still running are stopped and the rest are skipped."
            confirmLabel="Cancel run"
            onConfirm={doCancel}
          >
            Cancel run
          </ConfirmButton>
        )}
      </div>
      <p className="muted">
        {run.trigger} · queued {formatTime(run.created_at)}
        {run.finished_at && ` · finished ${formatTime(run.finished_at)}`}
      </p>
      <ErrorNote error={cancel.error} />
      {run.error && <p className="error">{run.error}</p>}
      <div className="table-wrap">
        <table aria-label="Steps of this run" className="run-steps">
          <thead>
            <tr>
              <th>Step</th>
              <th>Status</th>
              <th>Output</th>
              <th className="hide-narrow">Started</th>
              <th>Took</th>
              <th className="hide-narrow">Attempts</th>
            </tr>
          </thead>
          <tbody>
            {run.steps.map((s) => (
              <tr key={s.name} data-step={s.name}>
                <td>
                  {s.name}
                  <div className="muted">
                    {s.type} · stage {s.stage + 1}
                  </div>
                  <StepWhere name={s.name} pipeline={pipeline} targets={targets} />
                </td>
                <td>
                  <RunBadge status={s.status} />
                </td>
                <td>
                  {s.output ? (
                    <pre className="step-output">{s.output}</pre>
                  ) : (
                    <span className="muted">—</span>
                  )}
                  {s.error && <p className="error">{s.error}</p>}
                </td>
                <td className="muted hide-narrow">{formatTime(s.started_at)}</td>
                <td className="muted">{formatDuration(s.duration_ms)}</td>
                <td className="muted hide-narrow">{s.attempts}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  )
}
