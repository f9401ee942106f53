import { type AnchorHTMLAttributes, type MouseEvent, useEffect, useSyncExternalStore } from 'react'

/** A tiny history router: the dashboard has a handful of pages, no need for more. */
const listeners = new Set<() => void>()

function subscribe(fn: () => void): () => void {
  listeners.add(fn)
  window.addEventListener('popstate', fn)
  return () => {
    listeners.delete(fn)
    window.removeEventListener('popstate', fn)
  }
}

/** Asked before the router moves to another page; one that answers false keeps the page. */
const leaveGuards = new Set<(to: string) => boolean>()

/** Adds a guard on leaving the page within the dashboard; returns its removal. */
export function guardLeave(guard: (to: string) => boolean): () => void {
  leaveGuards.add(guard)
  return () => {
    leaveGuards.delete(guard)
  }
}

export function navigate(to: string, replace = false): void {
  if (to === location.pathname + location.search) return
  for (const guard of leaveGuards) if (!guard(to)) return
  if (replace) history.replaceState(null, '', to)
  else history.pushState(null, '', to)
  for (const fn of listeners) fn()
  window.scrollTo(0, 0)
}

export function usePath(): string {
  return useSyncExternalStore(subscribe, () => location.pathname)
}

export function useSearch(): URLSearchParams {
  const search = useSyncExternalStore(subscribe, () => location.search)
  return new URLSearchParams(search)
}

/** Matches `/instances/:id/:tab?` style patterns; returns the params or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/').filter(Boolean)
  const s = path.split('/').filter(Boolean)
  const out: Record<string, string> = {}
  for (let i = 0; i < Math.max(p.length, s.length); i++) {
    const part = p[i]
    if (part === undefined) return null
    const optional = part.endsWith('?')
    const name = part.replace(/^:|\?$/g, '')
    const seg = s[i]
    if (seg === undefined) {
      if (optional) continue
      return null
    }
    if (part.startsWith(':')) out[name] = decodeURIComponent(seg)
    else if (part !== seg) return null
  }
  return out
}

export function Link({ href, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e)
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    e.preventDefault()
    navigate(href)
  }
  return <a href={href} onClick={handle} {...rest} />
}

/** Sets the document title while a page is shown. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Clawport` : 'Clawport'
  }, [title])
}
