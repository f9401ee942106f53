import { useEffect, useState } from 'react'
import { type Instance, type NetworkMode, patch } from '../../api'
import { useAuth } from '../../auth'
import { ErrorNote, Field, useAction } from '../../components/ui'

/** What each mode means, said plainly where an instance is shown. */
export const NETWORK_TEXT: Record<NetworkMode, string> = {
  public: 'Internet: on, host and private networks blocked',
  allowlist: 'Allowlist: only the listed hosts',
  off: 'No network',
}

/** The same, for a table cell. */
export const NETWORK_SHORT: Record<NetworkMode, string> = {
  public: 'Internet',
  allowlist: 'Allowlist',
  off: 'No network',
}

const PLAN_OFF_REASON = 'Your plan allows no network.'

/** public > allowlist > off: a plan allows its own mode and every lesser one. */
const REACH: Record<NetworkMode, number> = { off: 0, allowlist: 1, public: 2 }
const allows = (plan: NetworkMode, mode: NetworkMode) => REACH[mode] <= REACH[plan]

/** The network choice of a new instance; `planNetwork` is the most the plan allows. */
export function NetworkSelect({
  value,
  planNetwork,
  onChange,
}: {
  value: NetworkMode
  planNetwork: NetworkMode
  onChange: (mode: NetworkMode) => void
}) {
  const hint =
    planNetwork === 'off'
      ? PLAN_OFF_REASON
      : value === 'allowlist'
        ? "Your plan's host list; change it on the instance's page while it is stopped"
        : 'Internet never reaches this server, its networks or other instances'
  return (
    <Field label="Network" hint={hint}>
      {(id) => (
        <select id={id} value={value} onChange={(e) => onChange(e.target.value as NetworkMode)}>
          <option value="public" disabled={!allows(planNetwork, 'public')}>
            Internet (public)
          </option>
          <option value="allowlist" disabled={!allows(planNetwork, 'allowlist')}>
            Listed hosts only (allowlist)
          </option>
          <option value="off">No network (off)</option>
        </select>
      )}
    </Field>
  )
}

/** Host names typed as a list: commas, spaces or new lines between them. */
const parseHosts = (text: string) => text.split(/[\s,]+/).filter(Boolean)

/**
 * An instance's network: a switch between the internet and none, and its allowlist's hosts,
 * changed while the instance is stopped.
 */
export function NetworkControl({ inst, onChange }: { inst: Instance; onChange: () => void }) {
  const { me } = useAuth()
  const { busy, error, run } = useAction()
  const [hosts, setHosts] = useState(inst.allowed_hosts.join(', '))
  useEffect(() => setHosts(inst.allowed_hosts.join(', ')), [inst.allowed_hosts])
  const target: NetworkMode = inst.network === 'public' ? 'off' : 'public'
  const plan = me?.network ?? 'off'
  const stopped = inst.status === 'stopped'
  const reason = !stopped
    ? 'Stop the instance to change its network.'
    : !allows(plan, target)
      ? PLAN_OFF_REASON
      : undefined
  const save = (body: { network: NetworkMode; allowed_hosts?: string[] }) =>
    run(async () => {
      await patch<Instance>(`/api/instances/${inst.id}`, body)
      onChange()
    })
  return (
    <div className="network">
      <div className="row">
        <span>
          <span className="muted">Network: </span>
          <strong data-network={inst.network}>{NETWORK_TEXT[inst.network]}</strong>
        </span>
        <button
          type="button"
          className="secondary small"
          disabled={busy || reason !== undefined}
          onClick={() => void save({ network: target })}
        >
          {target === 'public' ? 'Switch to Internet' : 'Switch to no network'}
        </button>
        {reason && <span className="muted">{reason}</span>}
      </div>
      {allows(plan, 'allowlist') && (
        <div className="row">
          <Field
            label="Allowed hosts"
            hint="example.com is that name only; *.example.com every name below it"
          >
            {(id) => (
              <input
                id={id}
                value={hosts}
                placeholder="pypi.org, files.pythonhosted.org"
                disabled={!stopped || busy}
                onChange={(e) => setHosts(e.target.value)}
              />
            )}
          </Field>
          <button
            type="button"
            className="secondary small"
            disabled={busy || !stopped}
            onClick={() => void save({ network: 'allowlist', allowed_hosts: parseHosts(hosts) })}
          >
            {inst.network === 'allowlist' ? 'Save allowlist' : 'Use allowlist'}
          </button>
        </div>
      )}
      <ErrorNote error={error} />
    </div>
  )
}
