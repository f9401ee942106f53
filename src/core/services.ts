import { ModelBroker } from '../broker/broker.js'
import type { Config } from '../config.js'
import { ControlSockets } from '../door/control-sockets.js'
import type { DriverCapabilities, InstanceDriver } from '../drivers/driver.js'
import { createFleetDriver } from '../drivers/index.js'
import type { Logger } from '../log.js'
import { openStore, type Store } from '../store/index.js'
import { AccountService } from './accounts.js'
import { GatewayRunner } from './agent/gateway-runner.js'
import type { AgentRunner } from './agent.js'
import { AuditService } from './audit.js'
import { InboxService } from './automation/inbox.js'
import { PipelineRunner } from './automation/pipeline-runner.js'
import { PipelineService } from './automation/pipelines.js'
import { SwarmService } from './automation/swarms.js'
import { ChannelService } from './channels/channels.js'
import { ChatService } from './chat/chat-service.js'
import { closeInterruptedTurns, staleBefore } from './chat/recovery.js'
import { DesktopService } from './desktop.js'
import { createEventRuntime, type EventService } from './events/index.js'
import {
  recordBootFailure,
  recordCrash,
  recordRunaway,
  recordTransition,
} from './events/transition-events.js'
import { InstanceGateway } from './instance-gateway.js'
import { InstanceLogService } from './instance-logs.js'
import { InstanceMetricsService } from './instance-metrics.js'
import { InstanceAdmission } from './instances/admission.js'
import { InstanceLifecycle } from './instances/lifecycle.js'
import { InstanceSupervisor } from './instances/supervisor.js'
import { InstanceService } from './instances.js'
import { InviteService } from './invites.js'
import { KeyService } from './keys.js'
import { ModelSettings } from './model-settings.js'
import { RunnerService } from './runners.js'
import { InstanceScope } from './scope.js'
import { SecretBox } from './secret-box.js'
import { createBus, type EventBus } from './shared/index.js'
import { createLocks, hostLockName, type Locks } from './shared/locks.js'
import { SleepService } from './sleep/sleep-service.js'
import { CLOSE_CODES, RelayRegistry } from './socket-relay.js'
import { TerminalService } from './terminal.js'
import { WarmPool } from './warm-pool.js'
import { WebSessionService } from './web-sessions.js'
import { WorkspaceService } from './workspace.js'
import { WsTicketService } from './ws-tickets.js'

/** Every core service, wired once per process. */
export interface Services {
  config: Config
  store: Store
  /** Leaderships and run-once work among replicas (in-process with SQLite). */
  locks: Locks
  /** Wake-ups between replicas (in-process with SQLite). */
  bus: EventBus
  driver: InstanceDriver
  capabilities?: DriverCapabilities
  accounts: AccountService
  keys: KeyService
  invites: InviteService
  instances: InstanceService
  /** Instances' chat channels (Telegram), tokens sealed, and their DM pairing. */
  channels: ChannelService
  /** Provision, boot, stop, remove; `onTransition` reports every status change. */
  lifecycle: InstanceLifecycle
  /** Users' model settings (their own upstream, the key sealed) over the operator's default. */
  models: ModelSettings
  broker: ModelBroker
  /** Runs agent turns on instances' OpenClaw gateways. */
  agent: AgentRunner
  /** Chat sessions, turns, history and the event log over the agent. */
  chat: ChatService
  workspace: WorkspaceService
  terminal: TerminalService
  desktop: DesktopService
  wsTickets: WsTicketService
  /** Ready, unassigned instances for instant creates. */
  pool: WarmPool
  /** Dashboard sign-ins (cookie sessions), first-run password and open sign-up. */
  webSessions: WebSessionService
  /** Every instance's door back to the control plane (model broker, scoped API). */
  control: ControlSockets
  /** What calls from inside an instance may see. */
  scope: InstanceScope
  /** Durable messages to instances' agents. */
  inbox: InboxService
  /** Named groups of instances. */
  swarms: SwarmService
  /** Stored pipelines, their triggers and durable runs. */
  pipelines: PipelineService
  /** Who did what: every write request, written after its answer. */
  audit: AuditService
  /** Instances' lifecycle events (`events.record(id, type, {reason, data})`) and the webhooks. */
  events: EventService
  /** Instances' own log files, tailed or followed. */
  instanceLogs: InstanceLogService
  /** Instances' resource usage (cgroups, disk, network). */
  metrics: InstanceMetricsService
  /** Idle instances sleep; work that needs their agent or desktop wakes them. */
  sleep: SleepService
  /** The hosts running instances: health, load, drain, and their instances' door calls. */
  runners: RunnerService
  close(): Promise<void>
}

export interface ServiceOptions {
  /** Start the driver and adopt running instances (the server); the admin CLI only needs the store. */
  withDriver?: boolean
}

export async function createServices(
  config: Config,
  log: Logger,
  opts: ServiceOptions = {},
): Promise<Services> {
  // First: without a shared key on PostgreSQL, nothing else should start.
  const box = SecretBox.forConfig(config)
  const store = await openStore(config)
  const locks = await createLocks(config, log.child({ component: 'locks' }))
  // Work done once per host (supervision, sleep, the pool, OOM kills) and once overall (webhook
  // deliveries): the server takes part in both elections; tools that need only the store, in none.
  const leads = opts.withDriver
    ? { host: await locks.leader(hostLockName(config)), webhooks: await locks.leader('events:webhooks') }
    : undefined
  const bus = await createBus(config.store, log.child({ component: 'bus' }))
  await store.plans.sync(config.plans)
  const driver = await createFleetDriver(config, log, store, bus)
  const capabilities = opts.withDriver ? await driver.init() : undefined
  const accounts = new AccountService(store, config)
  const keys = new KeyService(store)
  const invites = new InviteService(store)
  const models = new ModelSettings(store, config.broker, box)
  const broker = new ModelBroker(models, store, config.broker, log.child({ component: 'broker' }))
  const controlSockets = new ControlSockets(broker, log.child({ component: 'control' }))
  const gateway = new InstanceGateway(
    config.gateway,
    driver,
    controlSockets,
    log.child({ component: 'gateway' }),
  )
  const scope = new InstanceScope(store)
  const instanceLog = log.child({ component: 'instances' })
  const lifecycle = new InstanceLifecycle(store, driver, config, instanceLog, gateway)
  const supervisor = new InstanceSupervisor(
    store,
    driver,
    lifecycle,
    config,
    instanceLog,
    leads?.host,
    gateway,
  )
  const agent = new GatewayRunner(store, gateway, broker, config.gateway, log.child({ component: 'agent' }))
  const pool = new WarmPool(store, lifecycle, agent, config, log.child({ component: 'pool' }), leads?.host)
  const admission = new InstanceAdmission(store, invites, lifecycle, pool, config.fleet, instanceLog)
  const instances = new InstanceService(store, scope, lifecycle, admission, supervisor)
  const eventRuntime = createEventRuntime(
    store,
    instances,
    config.broker.modelPrivateUrls,
    box,
    log.child({ component: 'events' }),
    {
      oomKills: async (id) => (await driver.oomKills?.(id)) ?? null,
    },
    bus,
  )
  const { events } = eventRuntime
  driver.onRunaway?.((id, report) => {
    // Every replica's driver may end a runaway it watches; the host's leader (which watches
    // them all) reports it once.
    if (leads && !leads.host.isLeader()) return
    void recordRunaway(events, id, report)
  })
  lifecycle.onTransition((t) => recordTransition(events, t))
  // What waits for a status held on another replica hears it changed (see SleepService).
  lifecycle.onTransition((t) => void bus.publish('instance_status', t.instanceId).catch(() => {}))
  lifecycle.onBootFailure((id, err, step) => recordBootFailure(events, driver, id, err, step))
  supervisor.onCrash((id, state, attempt) => recordCrash(events, id, state, attempt))
  if (opts.withDriver) eventRuntime.start(leads)
  const channels = new ChannelService(store, instances, gateway, box)
  gateway.channelsFor = (id) => channels.wireFor(id)
  const workspace = new WorkspaceService(instances, config.workspace)
  const chatLog = log.child({ component: 'chat' })
  const chat = new ChatService(store, instances, agent, chatLog, { replicaId: config.replicaId, bus })
  // Before anything can start a turn: turns a killed process left open are closed first (with
  // replicas, only those whose owner stopped beating; later ones are swept while serving).
  if (opts.withDriver) {
    await closeInterruptedTurns(store, chat.events, chatLog, {
      owner: config.replicaId,
      ...(store.dialect === 'postgres' ? { stale: staleBefore() } : {}),
    })
    chat.watchDeadOwners()
  }
  const relays = new RelayRegistry()
  relays.follow(bus, async (id) => (await store.instances.get(id))?.status)
  instances.onStop((id, reason) => relays.stopInstance(id, reason))
  instances.onStop((id, reason) => chat.abortInstance(id, reason))
  const sleep = new SleepService(
    store,
    instances,
    lifecycle,
    gateway,
    relays,
    config,
    log.child({ component: 'sleep' }),
    bus,
  )
  sleep.onSleep((id, reason) => chat.abortInstance(id, reason))
  chat.attachSleep(sleep)
  if (opts.withDriver) sleep.start(leads?.host)
  const terminal = new TerminalService(instances, relays, sleep)
  const desktop = new DesktopService(instances, relays, sleep)
  const wsTickets = new WsTicketService(store, instances, keys, config.http.wsTicketTtlMs)
  const inbox = new InboxService(store, instances, chat, log.child({ component: 'inbox' }), config.replicaId)
  inbox.attachSleep(sleep)
  inbox.attachBus(bus)
  if (opts.withDriver) await inbox.start()
  const swarms = new SwarmService(store, instances, inbox, scope, log.child({ component: 'swarms' }))
  const pipelineLog = log.child({ component: 'pipelines' })
  const pipelineRunner = new PipelineRunner(store, chat, workspace, scope, pipelineLog, config.replicaId)
  pipelineRunner.attachSleep(sleep)
  pipelineRunner.attachBus(bus)
  const pipelines = new PipelineService(
    store,
    instances,
    scope,
    pipelineRunner,
    config.http.publicUrl,
    pipelineLog,
    config.pipelines.scheduleMinIntervalS * 1000,
  )
  if (opts.withDriver) await pipelines.start()
  const audit = new AuditService(
    store,
    log.child({ component: 'audit' }),
    config.store.auditRetentionDays,
    locks,
  )
  const webSessions = new WebSessionService(store, accounts, keys, invites, config.http)
  return {
    config,
    store,
    locks,
    bus,
    driver,
    capabilities,
    accounts,
    keys,
    invites,
    instances,
    channels,
    lifecycle,
    models,
    broker,
    agent,
    chat,
    workspace,
    terminal,
    desktop,
    wsTickets,
    pool,
    webSessions,
    control: controlSockets,
    scope,
    inbox,
    swarms,
    pipelines,
    audit,
    events,
    instanceLogs: new InstanceLogService(instances, driver),
    metrics: new InstanceMetricsService(instances, driver),
    sleep,
    runners: new RunnerService(store, config.fleet),
    async close() {
      sleep.close()
      pool.close()
      await pipelines.close()
      await inbox.close()
      relays.closeAll(CLOSE_CODES.serverStopping, 'server shutting down')
      await chat.close()
      await instances.close()
      await eventRuntime.close()
      await controlSockets.closeAll()
      driver.close()
      await audit.close()
      await bus.close()
      // Last: leaderships end only once their work has stopped.
      await locks.close()
      await store.close()
    },
  }
}
