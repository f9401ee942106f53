import type { SecretBox } from '../../broker/secret-box.js'
import type { Config } from '../../config.js'
import type { Logger } from '../../log.js'
import type { Store } from '../../store/index.js'
import { EventService, type InstanceLookup } from './event-service.js'
import { type OomCounter, OomWatcher } from './oom-watcher.js'
import { WebhookDispatcher } from './webhook-dispatcher.js'
import { WebhookService } from './webhooks.js'

export { EventService } from './event-service.js'

/** The event log, the webhooks and the background work that feeds and drains them. */
export interface EventRuntime {
  events: EventService
  /** Starts sending queued deliveries and watching for OOM kills (the server only). */
  start(): void
  close(): Promise<void>
}

/**
 * Wires the lifecycle event log. Webhook URLs follow the rule of user model URLs: public
 * addresses only, unless the operator allows private ones (CLAWPORT_MODEL_PRIVATE_URLS=allow).
 */
export function createEventRuntime(
  store: Store,
  instances: InstanceLookup,
  config: Config,
  box: SecretBox,
  log: Logger,
  oom?: OomCounter,
): EventRuntime {
  const webhooks = new WebhookService(store, box, config.modelPrivateUrls)
  const events = new EventService(store, instances, webhooks, log)
  const dispatcher = new WebhookDispatcher(store, webhooks, config.modelPrivateUrls, log)
  const watcher = oom ? new OomWatcher(store, oom, events, log) : undefined
  return {
    events,
    start() {
      dispatcher.start()
      watcher?.start()
    },
    async close() {
      watcher?.close()
      await dispatcher.close()
    },
  }
}
