import { useEffect, useState } from 'react'
import { formatBytes, get, type Instance } from '../../api'
import { useLoad } from '../../components/ui'
import { usePoll } from '../../poll'
import { Link } from '../../router'

/** GET /api/instances/{id}/status: the parts a boot goes through. */
interface StatusDetail {
  sandbox: { running: boolean; started_at?: string }
  clawlet: { ok: boolean }
  gateway: { status: string; detail?: string }
}

/** GET /api/instances/{id}/events, the parts read here. */
interface LifecycleEvent {
  type: string
  created_at: string
}

/** Statuses of an instance on its way to `ready`. */
export const BOOTING = new Set(['provisioning', 'starting', 'rebooting', 'waking'])

/** Events that begin a boot: its time counts from the last of them. */
const BOOT_STARTS = new Set(['created', 'starting', 'rebooting', 'restarted', 'waking'])
/** Events that end one. */
const BOOT_ENDS = new Set(['ready', 'stopped', 'error', 'sleeping', 'start_timeout'])

/** The steps of a boot, in order, as the server's boot goes through them. */
const STEPS = [
  { id: 'sandbox', label: 'Sandbox', doing: 'starting its sandbox' },
  { id: 'clawlet', label: 'Clawlet', doing: 'waiting for its clawlet (the daemon inside it)' },
  { id: 'gateway', label: 'Agent', doing: 'starting its agent (the OpenClaw gateway)' },
  { id: 'finishing', label: 'Ready', doing: 'finishing' },
] as const
type Step = (typeof STEPS)[number]['id']

/** Gateway readiness that no longer holds a boot back. */
const GATEWAY_DONE = new Set(['ready', 'disabled', 'not_installed'])

const VERB: Record<string, string> = {
  provisioning: 'Starting',
  starting: 'Starting',
  rebooting: 'Rebooting',
  waking: 'Waking up',
}

/** Where a boot is, read from the status detail; `since` is when the boot began. */
function stepOf(status: string, d: StatusDetail | undefined, since: string): { step: Step; doing: string } {
  const doing = (step: Step) => STEPS.find((s) => s.id === step)?.doing ?? ''
  if (!d) return { step: 'sandbox', doing: doing('sandbox') }
  // A reboot (or a restart) first stops the sandbox it had: one started before the boot began
  // is that one. Waking keeps its sandbox and starts only the agent again.
  const old =
    status !== 'waking' && d.sandbox.started_at && Date.parse(d.sandbox.started_at) < Date.parse(since)
  if (!d.sandbox.running || old)
    return { step: 'sandbox', doing: old ? 'stopping its sandbox' : doing('sandbox') }
  if (!d.clawlet.ok) return { step: 'clawlet', doing: doing('clawlet') }
  if (!GATEWAY_DONE.has(d.gateway.status)) return { step: 'gateway', doing: doing('gateway') }
  return { step: 'finishing', doing: doing('finishing') }
}

/** "7 s", "1 min 05 s". */
function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
}

/**
 * A boot or reboot in progress (15-40 s with the agent): which step it is at, from the status
 * detail, and how long it has taken, from the lifecycle event that began it.
 */
export function BootProgress({ inst }: { inst: Instance }) {
  const id = inst.id
  const detail = useLoad((s) => get<StatusDetail>(`/api/instances/${id}/status`, s), [id])
  const events = useLoad(
    (s) => get<LifecycleEvent[]>(`/api/instances/${id}/events?limit=500`, s),
    [id, inst.status],
  )
  usePoll(detail.reload, true)
  // The event that began this boot is written just after the status changes: until it is read,
  // the status's own change time stands in, and the events are read again.
  const list = events.data ?? []
  const start = list.findLastIndex((e) => BOOT_STARTS.has(e.type))
  const known = start >= 0 && start > list.findLastIndex((e) => BOOT_ENDS.has(e.type))
  usePoll(events.reload, !known)
  const [now, setNow] = useState(Date.now())
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(t)
  }, [])
  const began = (known && list[start]?.created_at) || inst.updated_at
  const { step, doing } = stepOf(inst.status, detail.data, began)
  const at = STEPS.findIndex((s) => s.id === step)
  const gatewayDetail = step === 'gateway' ? detail.data?.gateway.detail : undefined
  return (
    <section className="card progress" aria-label="Progress">
      <div className="row between">
        <h2 aria-live="polite">
          {VERB[inst.status] ?? 'Starting'}: {doing}…
        </h2>
        <span className="mono" data-testid="elapsed" title={`Since ${new Date(began).toLocaleString()}`}>
          {formatElapsed(now - Date.parse(began))}
        </span>
      </div>
      <ol className="steps">
        {STEPS.map((s, i) => (
          <li
            key={s.id}
            data-step={s.id}
            className={i < at ? 'done' : i === at ? 'active' : 'todo'}
            aria-current={i === at ? 'step' : undefined}
          >
            {s.label}
          </li>
        ))}
      </ol>
      {gatewayDetail && <p className="muted">{gatewayDetail}</p>}
      <p className="muted">
        A boot takes 15 to 40 seconds while its agent starts. Follow it in its{' '}
        <Link href={`/instances/${id}/logs?source=boot`}>Boot log</Link>.
      </p>
    </section>
  )
}

/** The memory, CPU, disk and processes the instance is allotted (its plan's), at any status. */
export function Allotment({ inst }: { inst: Instance }) {
  const r = inst.resources
  if (!r) return null
  const MiB = 1024 * 1024
  return (
    <ul className="allotment" aria-label="Allotted resources">
      <li>
        <span className="muted">Memory</span> {formatBytes(r.memory_mb * MiB)}
      </li>
      <li>
        <span className="muted">CPU</span> {r.cpus} {r.cpus === 1 ? 'core' : 'cores'}
      </li>
      <li>
        <span className="muted">Disk</span> {formatBytes(r.disk_mb * MiB)}
      </li>
      <li>
        <span className="muted">Processes</span> {r.pids_max.toLocaleString('en-US')}
      </li>
    </ul>
  )
}
