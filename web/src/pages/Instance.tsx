import { lazy, Suspense, useEffect, useState } from 'react'
import { ApiError, get, type Instance } from '../api'
import { ErrorNote, Spinner, StatusBadge, useLoad } from '../components/ui'
import { BUSY_STATUSES, usePoll } from '../poll'
import { Link, navigate, useTitle } from '../router'
import { InstanceActions } from './Instances'
import { ChannelsTab } from './instance/Channels'
import { ChatTab } from './instance/Chat'
import { EventsSection } from './instance/Events'
import { FilesTab } from './instance/Files'
import { LogsTab } from './instance/Logs'
import { NetworkControl } from './instance/Network'
import { Allotment, BOOTING, BootProgress } from './instance/Progress'
import { ResourcesSection } from './instance/Resources'
import '../instance.css'

// Code-split: xterm.js and noVNC load only when their tab opens.
const TerminalTab = lazy(() => import('./instance/Terminal'))
const DesktopTab = lazy(() => import('./instance/Desktop'))

const TABS = [
  { id: 'chat', label: 'Chat' },
  { id: 'terminal', label: 'Terminal' },
  { id: 'desktop', label: 'Desktop' },
  { id: 'files', label: 'Files' },
  { id: 'channels', label: 'Channels' },
  { id: 'logs', label: 'Logs' },
]

/** One instance: its status and actions, and the chat, terminal, desktop and files tabs. */
export function InstancePage({ id, tab }: { id: string; tab: string }) {
  // An instance that is not there (deleted, or never this user's) is null: nothing polls for it.
  const {
    data: inst,
    error,
    reload,
  } = useLoad(
    (s) =>
      get<Instance>(`/api/instances/${id}`, s).catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 404) return null
        throw e
      }),
    [id],
  )
  const ready = inst?.status === 'ready'
  // Asleep, it still has its files and shell; chat, the terminal and the desktop wake it.
  const usable = ready || inst?.status === 'sleeping' || inst?.status === 'waking'
  useTitle(inst ? `${inst.name || id.slice(0, 8)} · ${tab}` : 'Instance')
  usePoll(inst === null ? undefined : reload, !ready)
  // Once opened, the files tab stays mounted (hidden) across tabs: its editor keeps unsaved edits.
  const [filesOf, setFilesOf] = useState<string>()
  useEffect(() => {
    if (tab === 'files') setFilesOf(id)
  }, [tab, id])
  if (inst === null)
    return (
      <section>
        <h1>Instance not found</h1>
        <p>
          There is no instance <code>{id}</code> on your account: it was deleted, or the link is wrong.
        </p>
        <Link href="/instances">Back to instances</Link>
      </section>
    )
  if (error && !inst)
    return (
      <section>
        <h1>Instance</h1>
        <ErrorNote error={error} />
        <Link href="/instances">Back to instances</Link>
      </section>
    )
  if (!inst) return <Spinner />
  const onKey = (e: React.KeyboardEvent) => {
    const i = TABS.findIndex((t) => t.id === tab)
    const next = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : -99
    if (next === -99) return
    const t = TABS[(next + TABS.length) % TABS.length]
    if (t) navigate(`/instances/${id}/${t.id}`, true)
  }
  return (
    <section>
      <div className="row between">
        <div className="row">
          <h1 style={{ margin: 0 }}>{inst.name || `Instance ${id.slice(0, 8)}`}</h1>
          <StatusBadge status={inst.status} />
        </div>
        <InstanceActions
          inst={inst}
          onChange={() => {
            reload()
            if (inst.status === 'deleting') navigate('/instances')
          }}
        />
      </div>
      <p className="muted mono">{inst.id}</p>
      <Allotment inst={inst} />
      <NetworkControl inst={inst} onChange={reload} />
      {inst.error && inst.status !== 'error' && <p className="error">{inst.error}</p>}
      {BOOTING.has(inst.status) && <BootProgress inst={inst} />}
      {inst.status === 'sleeping' && (
        <p className="muted">
          Asleep after being unused: a chat message, the terminal or the desktop wakes it; files work as they
          are.
        </p>
      )}
      <div className="tabs" role="tablist" aria-label="Instance views" onKeyDown={onKey}>
        {TABS.map((t) => (
          <Link
            key={t.id}
            href={`/instances/${id}/${t.id}`}
            role="tab"
            aria-selected={t.id === tab}
            tabIndex={t.id === tab ? 0 : -1}
          >
            {t.label}
          </Link>
        ))}
      </div>
      <div role="tabpanel" aria-label={tab}>
        {tab === 'logs' ? (
          // Logs stay on the instance's disk: they are readable while it is stopped.
          <LogsTab id={id} />
        ) : tab === 'channels' ? (
          // Settings are kept while stopped, and apply at the next start.
          <ChannelsTab id={id} />
        ) : inst.status === 'error' ? (
          <FailedNote id={id} reason={inst.error} />
        ) : !usable ? (
          <div className="empty">
            {inst.status === 'stopped' ? (
              'This instance is shut down. Start it to use it.'
            ) : BOOTING.has(inst.status) ? (
              <>
                <Spinner /> This opens once the instance is ready.
              </>
            ) : (
              <>
                <Spinner /> The instance is {inst.status}…
              </>
            )}
          </div>
        ) : (
          <Suspense fallback={<Spinner />}>
            {tab === 'chat' && <ChatTab id={id} />}
            {tab === 'terminal' && <TerminalTab id={id} />}
            {tab === 'desktop' && <DesktopTab id={id} />}
          </Suspense>
        )}
        {usable && (tab === 'files' || filesOf === id) && (
          <div hidden={tab !== 'files'}>
            <FilesTab key={id} id={id} />
          </div>
        )}
      </div>
      <ResourcesSection id={id} running={usable} />
      <EventsSection id={id} busy={BUSY_STATUSES.has(inst.status)} />
    </section>
  )
}

/** A failed instance says so plainly, why, and what to do; nothing spins. */
function FailedNote({ id, reason }: { id: string; reason: string | null | undefined }) {
  return (
    <div className="empty" role="alert">
      <p>
        <strong>This instance failed.</strong> {reason || 'It stopped without saying why.'}
      </p>
      <p>
        Start it again with <em>Start</em> above; if it fails again, its{' '}
        <Link href={`/instances/${id}/logs`}>boot log</Link> and the status history below say why.
      </p>
    </div>
  )
}
