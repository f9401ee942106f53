import { useEffect, useMemo, useState } from 'react'
import type { Instance } from '../api'
import { useAuth } from '../auth'
import '../work.css'

export type InstanceSort = 'created' | 'name' | 'status'

/** The order statuses sort in: what needs attention first, then what runs, then what rests. */
const STATUS_ORDER = [
  'error',
  'provisioning',
  'starting',
  'rebooting',
  'waking',
  'stopping',
  'deleting',
  'ready',
  'sleeping',
  'stopped',
]

const rank = (s: string) => {
  const i = STATUS_ORDER.indexOf(s)
  return i < 0 ? STATUS_ORDER.length : i
}

/** Filters instances by a search (name, id or status) and sorts them; newest first by default. */
export function useInstanceFilter(list: Instance[] | undefined) {
  const [query, setQuery] = useState('')
  const [sort, setSort] = useState<InstanceSort>('created')
  const shown = useMemo(() => {
    const q = query.trim().toLowerCase()
    const hit = (i: Instance) =>
      !q || (i.name ?? '').toLowerCase().includes(q) || i.id.startsWith(q) || i.status === q
    const byName = (a: Instance, b: Instance) => (a.name || a.id).localeCompare(b.name || b.id)
    const byCreated = (a: Instance, b: Instance) => b.created_at.localeCompare(a.created_at)
    return (list ?? []).filter(hit).sort((a, b) => {
      if (sort === 'name') return byName(a, b) || byCreated(a, b)
      if (sort === 'status') return rank(a.status) - rank(b.status) || byName(a, b)
      return byCreated(a, b)
    })
  }, [list, query, sort])
  return { query, setQuery, sort, setSort, shown }
}

/** The search box and sort picker above the instance list. */
export function InstanceListTools({
  query,
  setQuery,
  sort,
  setSort,
  shown,
  total,
}: ReturnType<typeof useInstanceFilter> & { total: number }) {
  return (
    <search className="list-tools">
      <label className="field">
        Search
        <input
          type="search"
          placeholder="Name, ID or status"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
      </label>
      <label className="field">
        Sort by
        <select value={sort} onChange={(e) => setSort(e.target.value as InstanceSort)}>
          <option value="created">Newest first</option>
          <option value="name">Name</option>
          <option value="status">Status</option>
        </select>
      </label>
      <span className="muted" role="status">
        {shown.length === total ? `${total} instances` : `${shown.length} of ${total} shown`}
      </span>
    </search>
  )
}

/** The first part of an instance's id, shown so that same-named instances differ; a click copies the whole id. */
export function InstanceId({ id }: { id: string }) {
  const [copied, setCopied] = useState(false)
  const copy = async () => {
    await navigator.clipboard.writeText(id).catch(() => {})
    setCopied(true)
    setTimeout(() => setCopied(false), 1500)
  }
  return (
    <button
      type="button"
      className="inst-id"
      data-id={id}
      title={`Copy the ID ${id}`}
      aria-label={copied ? `ID ${id} copied` : `Copy ID ${id.slice(0, 8)}`}
      onClick={() => void copy()}
    >
      {copied ? 'copied' : id.slice(0, 8)}
    </button>
  )
}

/** Refreshes the signed-in user (its plan usage) whenever the number of instances changes. */
export function useUsageFollowsList(list: Instance[] | undefined): void {
  const { refresh } = useAuth()
  const count = list?.length
  useEffect(() => {
    if (count !== undefined) void refresh()
  }, [count, refresh])
}
