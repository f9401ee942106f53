import { useEffect } from 'react'
import { guardLeave } from '../router'

/**
 * While `active`, leaving or reloading the page asks first (the browser's own question), and so
 * does going to another page of the dashboard, except to paths under `keptUnder` (where the
 * work stays mounted).
 */
export function useLeaveWarning(active: boolean, keptUnder?: string): void {
  useEffect(() => {
    if (!active) return
    const warn = (e: BeforeUnloadEvent) => {
      e.preventDefault()
      // Older Chromium versions ask only when returnValue is set.
      e.returnValue = ''
    }
    window.addEventListener('beforeunload', warn)
    const unguard = guardLeave(
      (to) =>
        (keptUnder !== undefined && to.startsWith(keptUnder)) ||
        window.confirm('Leave this page? Your unsaved changes will be lost.'),
    )
    return () => {
      window.removeEventListener('beforeunload', warn)
      unguard()
    }
  }, [active, keptUnder])
}
