import { useEffect } from 'react'

/** Instance states that are on their way somewhere: pages poll faster while one shows. */
export const BUSY_STATUSES = new Set([
  'provisioning',
  'starting',
  'rebooting',
  'stopping',
  'deleting',
  'waking',
])

/** Calls `reload` every `fastMs` while `fast`, every `slowMs` otherwise; without one, nothing. */
export function usePoll(reload: (() => void) | undefined, fast: boolean, fastMs = 1000, slowMs = 5000): void {
  useEffect(() => {
    if (!reload) return
    const t = setInterval(reload, fast ? fastMs : slowMs)
    return () => clearInterval(t)
  }, [fast, fastMs, slowMs, reload])
}
