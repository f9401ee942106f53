import { type FormEvent, useState } from 'react'
import { post, put } from '../../api'
import { ErrorNote, Field, useAction } from '../../components/ui'
import { decodeTarget, encodeTarget, TargetOptions, useTargets } from './targets'
import type { Pipeline, PipelineStage, PipelineStep, StepTarget } from './types'

type StepType = PipelineStep['type']

/** A step as the form holds it; fields the form does not show (retries, cwd...) ride along in `rest`. */
interface Draft {
  key: number
  name: string
  type: StepType
  target: string
  text: string
  from: string
  fromPath: string
  to: string
  toPath: string
  /** Runs at the same time as the step before it (one parallel stage). */
  parallel: boolean
  rest: Record<string, unknown>
}

let nextKey = 1

function blank(n: number): Draft {
  return {
    key: nextKey++,
    name: `step-${n}`,
    type: 'exec',
    target: '',
    text: '',
    from: '',
    fromPath: '',
    to: '',
    toPath: '',
    parallel: false,
    rest: {},
  }
}

function toDrafts(stages: PipelineStage[]): Draft[] {
  return stages.flatMap((stage) => {
    const steps = 'parallel' in stage ? stage.parallel : [stage]
    return steps.map((s, i): Draft => {
      const { name, type, instance_id, swarm_id, member, message, command, from, to, ...rest } = s
      return {
        key: nextKey++,
        name,
        type,
        target: encodeTarget({ instance_id, swarm_id, member }),
        text: (type === 'chat' ? message : command) ?? '',
        from: from ? encodeTarget(from) : '',
        fromPath: from?.path ?? '',
        to: to ? encodeTarget(to) : '',
        toPath: to?.path ?? '',
        parallel: i > 0,
        rest,
      }
    })
  })
}

function toStep(d: Draft): PipelineStep {
  const base = { ...d.rest, name: d.name.trim(), type: d.type }
  if (d.type === 'copy')
    return {
      ...base,
      from: { ...decodeTarget(d.from), path: d.fromPath },
      to: { ...decodeTarget(d.to), path: d.toPath },
    }
  const target: StepTarget = decodeTarget(d.target)
  return { ...base, ...target, ...(d.type === 'chat' ? { message: d.text } : { command: d.text }) }
}

/** Steps marked "at the same time" join the stage before them. */
function toStages(drafts: Draft[]): PipelineStage[] {
  const stages: PipelineStep[][] = []
  for (const [i, d] of drafts.entries()) {
    const last = stages.at(-1)
    if (d.parallel && i > 0 && last) last.push(toStep(d))
    else stages.push([toStep(d)])
  }
  return stages.map((s) => (s.length === 1 ? (s[0] as PipelineStep) : { parallel: s }))
}

function StepFields({
  d,
  n,
  targets,
  change,
  remove,
}: {
  d: Draft
  n: number
  targets: ReturnType<typeof useTargets>['data']
  change: (patch: Partial<Draft>) => void
  remove?: () => void
}) {
  const where = (label: string, value: string, set: (v: string) => void) => (
    <Field label={label}>
      {(id) => (
        <select id={id} required value={value} onChange={(e) => set(e.target.value)}>
          <TargetOptions targets={targets} current={value} />
        </select>
      )}
    </Field>
  )
  return (
    <fieldset className="card step-draft" data-step-draft={n}>
      <legend>Step {n}</legend>
      <div className="row">
        <div className="grow">
          <Field
            label={`Name of step ${n}`}
            hint="Letters, digits, - and _; later steps use {{steps.<name>.output}}"
          >
            {(id) => (
              <input id={id} required value={d.name} onChange={(e) => change({ name: e.target.value })} />
            )}
          </Field>
        </div>
        <Field label={`Type of step ${n}`}>
          {(id) => (
            <select id={id} value={d.type} onChange={(e) => change({ type: e.target.value as StepType })}>
              <option value="exec">exec: run a command</option>
              <option value="chat">chat: ask the agent</option>
              <option value="copy">copy: a file between instances</option>
            </select>
          )}
        </Field>
      </div>
      {d.type === 'copy' ? (
        <div className="row">
          <div className="grow">{where(`Copy from (step ${n})`, d.from, (from) => change({ from }))}</div>
          <div className="grow">
            <Field label={`Path to copy from (step ${n})`}>
              {(id) => (
                <input
                  id={id}
                  required
                  value={d.fromPath}
                  onChange={(e) => change({ fromPath: e.target.value })}
                />
              )}
            </Field>
          </div>
          <div className="grow">{where(`Copy to (step ${n})`, d.to, (to) => change({ to }))}</div>
          <div className="grow">
            <Field label={`Path to copy to (step ${n})`}>
              {(id) => (
                <input
                  id={id}
                  required
                  value={d.toPath}
                  onChange={(e) => change({ toPath: e.target.value })}
                />
              )}
            </Field>
          </div>
        </div>
      ) : (
        <>
          {where(`Runs on (step ${n})`, d.target, (target) => change({ target }))}
          <Field label={d.type === 'chat' ? `Message of step ${n}` : `Command of step ${n}`}>
            {(id) => (
              <textarea
                id={id}
                required
                rows={2}
                className="mono"
                value={d.text}
                onChange={(e) => change({ text: e.target.value })}
              />
            )}
          </Field>
        </>
      )}
      <div className="row between">
        {n > 1 ? (
          <label>
            <input
              type="checkbox"
              checked={d.parallel}
              onChange={(e) => change({ parallel: e.target.checked })}
            />{' '}
            Runs at the same time as step {n - 1}
          </label>
        ) : (
          <span />
        )}
        {remove && (
          <button type="button" className="small secondary" onClick={remove}>
            Remove step {n}
          </button>
        )}
      </div>
    </fieldset>
  )
}

/**
 * Creates a pipeline, or edits one in place (PUT keeps its runs and webhook URL). `onSaved` gets
 * the pipeline as saved; a `webhook_url` in it is shown only this once.
 */
export function PipelineEditor({
  pipeline,
  onSaved,
  onCancel,
}: {
  pipeline?: Pipeline
  onSaved: (p: Pipeline & { webhook_url?: string }) => void
  onCancel: () => void
}) {
  const targets = useTargets()
  const [name, setName] = useState(pipeline?.name ?? '')
  const [schedule, setSchedule] = useState(pipeline?.schedule ?? '')
  const [webhook, setWebhook] = useState(pipeline?.webhook ?? false)
  const [drafts, setDrafts] = useState<Draft[]>(() => (pipeline ? toDrafts(pipeline.steps) : [blank(1)]))
  const { busy, error, run } = useAction()
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const body = { name: name.trim(), steps: toStages(drafts), schedule: schedule.trim() || null, webhook }
    const saved = await run(() =>
      pipeline
        ? put<Pipeline>(`/api/pipelines/${pipeline.id}`, body)
        : post<Pipeline & { webhook_url?: string }>('/api/pipelines', body),
    )
    if (saved) onSaved(saved)
  }
  const change = (key: number, patch: Partial<Draft>) =>
    setDrafts((ds) => ds.map((d) => (d.key === key ? { ...d, ...patch } : d)))
  const title = pipeline ? `Edit ${pipeline.name}` : 'New pipeline'
  return (
    <form className="card" onSubmit={submit} aria-label={title}>
      <h2>{title}</h2>
      <ErrorNote error={targets.error} />
      <div className="row">
        <div className="grow">
          <Field label="Pipeline name">
            {(id) => (
              <input
                id={id}
                required
                maxLength={100}
                value={name}
                onChange={(e) => setName(e.target.value)}
              />
            )}
          </Field>
        </div>
        <div className="grow">
          <Field label="Schedule (cron, UTC)" hint="Optional, e.g. 0 3 * * * for 03:00 every day">
            {(id) => <input id={id} value={schedule} onChange={(e) => setSchedule(e.target.value)} />}
          </Field>
        </div>
      </div>
      <label>
        <input type="checkbox" checked={webhook} onChange={(e) => setWebhook(e.target.checked)} /> Can be
        started from a webhook URL
      </label>
      {drafts.map((d, i) => (
        <StepFields
          key={d.key}
          d={d}
          n={i + 1}
          targets={targets.data}
          change={(patch) => change(d.key, patch)}
          remove={drafts.length > 1 ? () => setDrafts((ds) => ds.filter((x) => x.key !== d.key)) : undefined}
        />
      ))}
      <div className="row between">
        <button
          type="button"
          className="secondary"
          onClick={() => setDrafts((ds) => [...ds, blank(ds.length + 1)])}
        >
          Add step
        </button>
        <div className="row">
          <button type="button" className="secondary" onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Saving…' : pipeline ? 'Save pipeline' : 'Create pipeline'}
          </button>
        </div>
      </div>
      <ErrorNote error={error} />
    </form>
  )
}
