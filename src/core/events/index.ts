import type { Logger } from '../../log.js'
import type { Store } from '../../store/index.js'
import type { SecretBox } from '../secret-box.js'
import type { EventBus } from '../shared/bus.js'
import type { Leadership } from '../shared/locks.js'
import { EventService, type InstanceLookup } from './event-service.js'
import { type OomCounter, OomWatcher } from './oom-watcher.js'
import { WebhookDispatcher } from './webhook-dispatcher.js'
import { WebhookService } from './webhooks.js'

export { EventService } from './event-service.js'

/** The event log, the webhooks and the background work that feeds and drains them. */
export interface EventRuntime {
  events: EventService
  /**
   * Starts sending queued deliveries and watching for OOM kills (the server only); with
   * leaderships (replicas), each only while this process holds its own.
   */
  start(lead?: { webhooks: Leadership; host: Leadership }): void
  close(): Promise<void>
}

/**
 * Wires the lifecycle event log. Webhook URLs follow the rule of user model URLs: public
 * addresses only, unless the operator allows private ones (CLAWPORT_MODEL_PRIVATE_URLS=allow).
 */
export function createEventRuntime(
  store: Store,
  instances: InstanceLookup,
  privateUrls: boolean,
  box: SecretBox,
  log: Logger,
  oom?: OomCounter,
  bus?: EventBus,
): EventRuntime {
  const webhooks = new WebhookService(store, box, privateUrls)
  const events = new EventService(store, instances, webhooks, log, bus)
  /** Each dispatcher's close, once: a term's end and the runtime's close may both ask. */
  const dispatchers = new Map<WebhookDispatcher, Promise<void> | undefined>()
  let closed = false
  const stop = (d: WebhookDispatcher) => {
    let done = dispatchers.get(d)
    if (!done) {
      done = d.close().catch((err: unknown) => log.warn({ err }, 'webhook dispatcher did not close'))
      dispatchers.set(d, done)
    }
    return done
  }
  // A dispatcher ends for good when it closes: each leadership term gets a fresh one.
  const dispatch = () => {
    if (closed) return undefined
    const d = new WebhookDispatcher(store, webhooks, privateUrls, log)
    dispatchers.set(d, undefined)
    d.start()
    return () => void stop(d)
  }
  const watcher = oom ? new OomWatcher(store, oom, events, log) : undefined
  const watch = () => {
    if (closed || !watcher) return undefined
    watcher.start()
    return () => watcher.close()
  }
  return {
    events,
    start(lead) {
      if (!lead) {
        dispatch()
        watch()
        return
      }
      lead.webhooks.onLead(dispatch)
      lead.host.onLead(watch)
    },
    async close() {
      closed = true
      watcher?.close()
      events.close()
      await Promise.all([...dispatchers.keys()].map(stop))
    },
  }
}
