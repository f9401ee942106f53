const TONE: Record<string, string> = {
  succeeded: 'ok',
  replied: 'ok',
  queued: 'busy',
  pending: 'busy',
  running: 'busy',
  delivered: 'busy',
  failed: 'bad',
  canceled: 'idle',
  skipped: 'idle',
}

/** The status of a run, a step or a broadcast reply, in the colours of the instance badges. */
export function RunBadge({ status }: { status: string }) {
  const tone = TONE[status] ?? 'idle'
  return (
    <span className={`badge ${tone}`} data-status={status}>
      {tone === 'busy' && <span className="dot pulse" aria-hidden />}
      {status}
    </span>
  )
}
