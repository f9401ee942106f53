import { type FormEvent, useState } from 'react'
import { del, get, post, put } from '../../api'
import { ErrorNote, Field, Spinner, useAction, useLoad } from '../../components/ui'
import { usePoll } from '../../poll'

type DmPolicy = 'pairing' | 'allowlist' | 'open' | 'disabled'

/** A channel as GET /api/instances/{id}/channels/{name} answers it (never its token). */
interface Channel {
  name: string
  settings: {
    dm_policy: DmPolicy
    allow_from: string[]
    group_policy: string
    groups: string[]
    require_mention: boolean
  }
  token_set: boolean
  state: 'connected' | 'pairing' | 'starting' | 'error' | 'stopped' | 'restart_required'
  reason: string | null
  pending_pairings: number
}

interface PairingRequest {
  request_id: string
  sender_id: string
  metadata: Record<string, string>
  expires_at: string
}

const STATE_TEXT: Record<Channel['state'], string> = {
  connected: 'Connected',
  pairing: 'Connected, people waiting for approval',
  starting: 'Connecting…',
  error: 'Error',
  stopped: 'Stopped',
  restart_required: 'Changed: reboot the instance to apply',
}

const POLICY_TEXT: Record<DmPolicy, string> = {
  pairing: 'Pairing: strangers get a code and wait for your approval',
  allowlist: 'Only the Telegram user ids listed',
  open: 'Anyone (public bot)',
  disabled: 'No direct messages',
}

const ids = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean)

/** Telegram for the instance's agent: the bot's settings, its state and DM pairing approvals. */
export function ChannelsTab({ id }: { id: string }) {
  const base = `/api/instances/${id}/channels`
  const { data, error, reload } = useLoad((s) => get<Channel[]>(base, s), [id])
  usePoll(reload, false)
  const telegram = data?.find((c) => c.name === 'telegram')
  if (!data && !error) return <Spinner />
  return (
    <div className="channels">
      <ErrorNote error={error} />
      {telegram && <ChannelStatus channel={telegram} />}
      <TelegramForm key={telegram ? 'set' : 'new'} base={base} channel={telegram} onChange={reload} />
      {telegram && (telegram.state === 'pairing' || telegram.state === 'connected') && (
        <Pairing base={`${base}/telegram`} onChange={reload} />
      )}
    </div>
  )
}

function ChannelStatus({ channel }: { channel: Channel }) {
  return (
    <p>
      <span className="muted">Telegram: </span>
      <strong data-state={channel.state} className={channel.state === 'error' ? 'error' : undefined}>
        {STATE_TEXT[channel.state]}
      </strong>
      {channel.reason && <span className="muted"> ({channel.reason})</span>}
    </p>
  )
}

function TelegramForm({
  base,
  channel,
  onChange,
}: {
  base: string
  channel?: Channel
  onChange: () => void
}) {
  const [token, setToken] = useState('')
  const [policy, setPolicy] = useState<DmPolicy>(channel?.settings.dm_policy ?? 'pairing')
  const [allow, setAllow] = useState((channel?.settings.allow_from ?? []).join(', '))
  const { busy, error, run } = useAction()
  const save = (e: FormEvent) => {
    e.preventDefault()
    void run(async () => {
      await put(`${base}/telegram`, {
        ...(token ? { bot_token: token.trim() } : {}),
        dm_policy: policy,
        allow_from: ids(allow),
      })
      setToken('')
      onChange()
    })
  }
  const remove = () =>
    run(async () => {
      await del(`${base}/telegram`)
      onChange()
    })
  return (
    <form onSubmit={save} aria-label="Telegram settings">
      <Field
        label="Bot token"
        hint={
          channel?.token_set
            ? 'Set (never shown again). Leave empty to keep it.'
            : 'From @BotFather. The bot needs the instance to have Internet.'
        }
      >
        {(fid) => (
          <input
            id={fid}
            type="password"
            autoComplete="off"
            value={token}
            placeholder={channel?.token_set ? '••••••••' : '123456789:AA…'}
            onChange={(e) => setToken(e.target.value)}
          />
        )}
      </Field>
      <Field label="Who may message the bot">
        {(fid) => (
          <select id={fid} value={policy} onChange={(e) => setPolicy(e.target.value as DmPolicy)}>
            {(Object.keys(POLICY_TEXT) as DmPolicy[]).map((p) => (
              <option key={p} value={p}>
                {POLICY_TEXT[p]}
              </option>
            ))}
          </select>
        )}
      </Field>
      {policy === 'allowlist' && (
        <Field label="Allowed Telegram user ids" hint="Numbers, separated by commas">
          {(fid) => <input id={fid} value={allow} onChange={(e) => setAllow(e.target.value)} />}
        </Field>
      )}
      <div className="row">
        <button type="submit" disabled={busy || (!channel && !token)}>
          {channel ? 'Save' : 'Connect Telegram'}
        </button>
        {channel && (
          <button type="button" className="secondary" disabled={busy} onClick={() => void remove()}>
            Remove
          </button>
        )}
      </div>
      <p className="muted">Changes apply when the instance next starts: reboot it after saving.</p>
      <ErrorNote error={error} />
    </form>
  )
}

function Pairing({ base, onChange }: { base: string; onChange: () => void }) {
  const { data, error, reload } = useLoad((s) => get<PairingRequest[]>(`${base}/pairing`, s), [base])
  usePoll(reload, false)
  const { busy, error: actionError, run } = useAction()
  const decide = (r: PairingRequest, action: 'approve' | 'dismiss') =>
    run(async () => {
      await post(`${base}/pairing/${encodeURIComponent(r.request_id)}/${action}`)
      reload()
      onChange()
    })
  return (
    <section aria-label="Pairing requests">
      <h3>Waiting for approval</h3>
      <ErrorNote error={error ?? actionError} />
      {data && !data.length && (
        <p className="muted">Nobody is waiting. Strangers who message the bot show up here.</p>
      )}
      {data?.map((r) => (
        <div key={r.request_id} className="row">
          <span className="mono">{r.sender_id}</span>
          <span>{Object.values(r.metadata).join(' ')}</span>
          <button type="button" className="small" disabled={busy} onClick={() => void decide(r, 'approve')}>
            Approve
          </button>
          <button
            type="button"
            className="secondary small"
            disabled={busy}
            onClick={() => void decide(r, 'dismiss')}
          >
            Dismiss
          </button>
        </div>
      ))}
    </section>
  )
}
