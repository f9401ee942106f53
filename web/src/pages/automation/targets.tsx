import { get, type Instance } from '../../api'
import { useLoad } from '../../components/ui'
import { Link } from '../../router'
import type { StepTarget, Swarm } from './types'

/** The places a step can run: the user's instances and their swarms' members. */
export interface Targets {
  instances: Instance[]
  swarms: Swarm[]
}

export function useTargets() {
  return useLoad(async (signal): Promise<Targets> => {
    const [instances, swarms] = await Promise.all([
      get<Instance[]>('/api/instances', signal),
      get<Swarm[]>('/api/swarms', signal),
    ])
    return { instances, swarms }
  }, [])
}

/** The instance a target names now: an instance, or a swarm member by position (from 1) or role. */
export function resolveTarget(
  t: StepTarget,
  targets: Targets | undefined,
): { id: string; name: string } | undefined {
  if (!targets) return undefined
  let id = t.instance_id
  if (!id && t.swarm_id) {
    const swarm = targets.swarms.find((s) => s.id === t.swarm_id)
    const members = [...(swarm?.members ?? [])].sort((a, b) => a.position - b.position)
    const m =
      typeof t.member === 'string' ? members.find((x) => x.role === t.member) : members[(t.member ?? 1) - 1]
    id = m?.instance_id
  }
  if (!id) return undefined
  const inst = targets.instances.find((i) => i.id === id)
  return { id, name: inst?.name || `Instance ${id.slice(0, 8)}` }
}

/** Where a step runs, named, with a link to the instance (and the swarm member it is, if one). */
export function TargetLink({ target, targets }: { target: StepTarget; targets: Targets | undefined }) {
  const found = resolveTarget(target, targets)
  const swarm = target.swarm_id ? targets?.swarms.find((s) => s.id === target.swarm_id) : undefined
  const via = target.swarm_id ? `${swarm?.name ?? 'swarm'} member ${target.member ?? 1}` : undefined
  if (!found) return <span className="muted">{via ?? (targets ? 'an instance that is gone' : '…')}</span>
  return (
    <span>
      <Link href={`/instances/${found.id}`} data-target={found.id}>
        {found.name}
      </Link>
      {via && <span className="muted"> ({via})</span>}
    </span>
  )
}

/** A target as one select value: `i:<id>`, `s:<swarm>:<n>` or `s:<swarm>:r:<role>`. */
export function encodeTarget(t: StepTarget): string {
  if (t.instance_id) return `i:${t.instance_id}`
  if (t.swarm_id)
    return typeof t.member === 'string' ? `s:${t.swarm_id}:r:${t.member}` : `s:${t.swarm_id}:${t.member ?? 1}`
  return ''
}

export function decodeTarget(v: string): StepTarget {
  if (v.startsWith('i:')) return { instance_id: v.slice(2) }
  const m = /^s:([^:]+):(?:r:(.+)|(\d+))$/.exec(v)
  if (!m) return {}
  return { swarm_id: m[1], member: m[2] ?? Number(m[3]) }
}

/** The select's options: every instance, then every swarm member by position. */
export function TargetOptions({ targets, current }: { targets: Targets | undefined; current: string }) {
  const values = new Set<string>()
  const options = [
    ...(targets?.instances ?? []).map((i) => {
      values.add(`i:${i.id}`)
      return (
        <option key={i.id} value={`i:${i.id}`}>
          {i.name || `Instance ${i.id.slice(0, 8)}`}
        </option>
      )
    }),
    ...(targets?.swarms ?? []).flatMap((s) =>
      s.members.map((m) => {
        const v = `s:${s.id}:${m.position + 1}`
        values.add(v)
        return (
          <option key={v} value={v}>
            {`Swarm ${s.name}, member ${m.position + 1}${m.role ? ` (${m.role})` : ''}`}
          </option>
        )
      }),
    ),
  ]
  return (
    <>
      <option value="">Choose where it runs</option>
      {current && !values.has(current) && <option value={current}>As saved ({current.slice(2, 10)}…)</option>}
      {options}
    </>
  )
}
