import { type Instance, type NetworkMode, patch } from '../../api'
import { useAuth } from '../../auth'
import { ErrorNote, Field, useAction } from '../../components/ui'

/** What each mode means, said plainly where an instance is shown. */
export const NETWORK_TEXT: Record<NetworkMode, string> = {
  public: 'Internet: on, host and private networks blocked',
  off: 'No network',
}

/** The same, for a table cell. */
export const NETWORK_SHORT: Record<NetworkMode, string> = { public: 'Internet', off: 'No network' }

const PLAN_OFF_REASON = 'Your plan allows no network.'

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
      : 'Internet never reaches this server, its networks or other instances'
  return (
    <Field label="Network" hint={hint}>
      {(id) => (
        <select id={id} value={value} onChange={(e) => onChange(e.target.value as NetworkMode)}>
          <option value="public" disabled={planNetwork === 'off'}>
            Internet (public)
          </option>
          <option value="off">No network (off)</option>
        </select>
      )}
    </Field>
  )
}

/** An instance's network, and a switch to the other mode while the instance is stopped. */
export function NetworkControl({ inst, onChange }: { inst: Instance; onChange: () => void }) {
  const { me } = useAuth()
  const { busy, error, run } = useAction()
  const target: NetworkMode = inst.network === 'public' ? 'off' : 'public'
  const reason =
    inst.status !== 'stopped'
      ? 'Stop the instance to change its network.'
      : target === 'public' && me?.network === 'off'
        ? PLAN_OFF_REASON
        : undefined
  const change = () =>
    run(async () => {
      await patch<Instance>(`/api/instances/${inst.id}`, { network: target })
      onChange()
    })
  return (
    <div className="row network">
      <span>
        <span className="muted">Network: </span>
        <strong data-network={inst.network}>{NETWORK_TEXT[inst.network]}</strong>
      </span>
      <button
        type="button"
        className="secondary small"
        disabled={busy || reason !== undefined}
        onClick={() => void change()}
      >
        {target === 'public' ? 'Switch to Internet' : 'Switch to no network'}
      </button>
      {reason && <span className="muted">{reason}</span>}
      <ErrorNote error={error} />
    </div>
  )
}
