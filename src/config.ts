import crypto from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { normalizeAllowedHosts } from './allowed-hosts.js'

/**
 * What an instance's sandbox may reach: `public` the internet (never the host, private,
 * link-local or CGNAT ranges, nor other instances); `allowlist` only the addresses its listed
 * host names resolve to (within what `public` allows); `off` no network at all. In that order
 * of permissiveness: a plan that allows one allows those after it.
 */
export const NetworkMode = z.enum(['public', 'allowlist', 'off'])
export type NetworkMode = z.infer<typeof NetworkMode>

/** Host names of an `allowlist` network, checked and lowercased (see allowed-hosts.ts). */
export const AllowedHosts = z.array(z.string().max(260)).transform((hosts, ctx) => {
  const r = normalizeAllowedHosts(hosts)
  if ('hosts' in r) return r.hosts
  ctx.addIssue({ code: 'custom', message: `"${r.host}" is not an allowed host: ${r.problem}` })
  return z.NEVER
})

/** A plan: what a subscription to it allows, and the limits of each of its instances. */
export const PlanSpec = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/),
  instance_limit: z.number().int().min(0),
  memory_mb: z.number().int().min(32).default(2048),
  cpus: z.number().positive().default(1),
  pids_max: z.number().int().min(16).default(1024),
  disk_mb: z.number().int().min(16).default(5120),
  /** The most network its instances may have, and what they get when a create names none. */
  network: NetworkMode.default('public'),
  /** The host names an `allowlist` instance of the plan gets when its create lists none. */
  allowed_hosts: AllowedHosts.optional(),
  /**
   * Minutes without use after which an instance's gateway and desktop stop until it is needed
   * again; fractions allowed, 0 never. Absent: DEFAULT_IDLE_SLEEP_MINUTES.
   */
  idle_sleep_minutes: z.number().min(0).optional(),
  /**
   * Warm instances kept ready for the plan. Absent: CLAWPORT_POOL_SIZE for a plan that can
   * have instances, as far as CLAWPORT_POOL_MEMORY_MB goes (see pool-plans.ts).
   */
  pool: z.number().int().min(0).optional(),
  /** Runner labels its instances need (`{"gpu": "yes"}`): only runners with all of them take them. */
  runner_labels: z.record(z.string(), z.string()).optional(),
})
export type PlanSpec = z.infer<typeof PlanSpec>

/** Without CLAWPORT_PLANS: every plan's instances reach the internet (and only it). */
export const DEFAULT_PLANS: PlanSpec[] = [
  { name: 'free', instance_limit: 0, memory_mb: 2048, cpus: 1, pids_max: 1024, disk_mb: 5120 },
  { name: 'pro', instance_limit: 3, memory_mb: 4096, cpus: 2, pids_max: 2048, disk_mb: 10240 },
  { name: 'team', instance_limit: 10, memory_mb: 4096, cpus: 2, pids_max: 2048, disk_mb: 20480 },
].map((p): PlanSpec => ({ ...p, network: 'public' }))

/** How long a plan's instances may sit unused before they sleep, when it does not say. */
export const DEFAULT_IDLE_SLEEP_MINUTES = 30

const intFrom = (def: number) => z.coerce.number().int().min(0).default(def)

const EnvSchema = z.object({
  CLAWPORT_DATA_DIR: z.string().min(1).default('./.clawport'),
  CLAWPORT_HOST: z.string().min(1).default('127.0.0.1'),
  CLAWPORT_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  CLAWPORT_PUBLIC_URL: z.url().optional(),
  CLAWPORT_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  CLAWPORT_DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' })
    .optional(),
  CLAWPORT_SECRET_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=?$/, 'must be 32 bytes in base64 (openssl rand -base64 32)')
    .optional(),
  CLAWPORT_DRIVER: z.enum(['local']).default('local'),
  CLAWPORT_RUNNER_TOKEN: z
    .string()
    .min(32, 'must be at least 32 characters (openssl rand -hex 32)')
    .optional(),
  CLAWPORT_LOCAL_INSTANCES: z.enum(['auto', 'on', 'off']).default('auto'),
  CLAWPORT_RUNNER_LABELS: z
    .string()
    .default('')
    .transform((raw, ctx) => {
      const labels: Record<string, string> = {}
      for (const part of raw
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)) {
        const m = /^([A-Za-z0-9][A-Za-z0-9._/-]{0,62})=([A-Za-z0-9._-]{0,63})$/.exec(part)
        if (!m) {
          ctx.addIssue({
            code: 'custom',
            message: `"${part}" is not a label: use name=value, comma-separated`,
          })
          return z.NEVER
        }
        labels[m[1] as string] = m[2] as string
      }
      return labels
    }),
  CLAWPORT_MAX_INSTANCES: intFrom(20),
  CLAWPORT_PLANS: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (!raw) return DEFAULT_PLANS
      try {
        return z.array(PlanSpec).min(1).parse(JSON.parse(raw))
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `must be a JSON array of plans: ${(err as Error).message}` })
        return z.NEVER
      }
    }),
  CLAWPORT_DEFAULT_PLAN: z.string().default('free'),
  CLAWPORT_RATE_LIMIT_PER_MIN: intFrom(1200),
  CLAWPORT_INSTANCE_RATE_LIMIT_PER_MIN: intFrom(1200),
  CLAWPORT_BODY_LIMIT_BYTES: intFrom(64 * 1024 * 1024),
  CLAWPORT_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  CLAWPORT_UPLOAD_IDLE_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  CLAWPORT_MAX_UPLOAD_BYTES: intFrom(4 * 1024 * 1024 * 1024),
  CLAWPORT_READ_LIMIT_BYTES: intFrom(32 * 1024 * 1024),
  CLAWPORT_EXEC_TIMEOUT_MS: intFrom(60_000),
  CLAWPORT_EXEC_MAX_TIMEOUT_MS: intFrom(30 * 60_000),
  CLAWPORT_UID_BASE: intFrom(200_000),
  CLAWPORT_TMP_SIZE_MB: intFrom(512),
  CLAWPORT_SANDBOX_OPEN_FILES: z.coerce.number().int().min(64).max(1_048_576).default(4096),
  CLAWPORT_CPU_RESERVE: z.coerce.number().min(0).default(0.5),
  CLAWPORT_DISK_QUOTA: z.enum(['auto', 'off']).default('auto'),
  CLAWPORT_NETWORK_DNS: z.ipv4().default('10.0.2.3'),
  CLAWPORT_READY_TIMEOUT_MS: intFrom(30_000),
  CLAWPORT_RESTART_WINDOW_MS: intFrom(10 * 60_000),
  CLAWPORT_GATEWAY: z.enum(['on', 'off']).default('on'),
  CLAWPORT_DESKTOP: z.enum(['on', 'off']).default('on'),
  CLAWPORT_WS_TICKET_TTL_MS: z.coerce.number().int().min(1).default(60_000),
  CLAWPORT_DESKTOP_GEOMETRY: z
    .string()
    .default('1280x800')
    .transform((raw, ctx) => {
      const m = /^(\d{3,4})x(\d{3,4})$/.exec(raw)
      const width = Number(m?.[1])
      const height = Number(m?.[2])
      if (!m || width < 320 || height < 200 || width > 4096 || height > 4096) {
        ctx.addIssue({ code: 'custom', message: 'must be WIDTHxHEIGHT, from 320x200 to 4096x4096' })
        return z.NEVER
      }
      return { width, height }
    }),
  CLAWPORT_OPENCLAW_DIR: z.string().min(1).optional(),
  CLAWPORT_GATEWAY_READY_TIMEOUT_MS: intFrom(180_000),
  CLAWPORT_WAKE_WAIT_MS: intFrom(60_000),
  CLAWPORT_GATEWAY_LIVENESS_MS: z.coerce.number().int().min(500).max(60_000).default(5_000),
  CLAWPORT_LLM_BASE_URL: z.url().optional(),
  CLAWPORT_LLM_API_KEY: z.string().optional(),
  CLAWPORT_LLM_MODEL: z.string().min(1).optional(),
  CLAWPORT_EMBEDDING_MODEL: z.string().min(1).optional(),
  CLAWPORT_EMBEDDING_BASE_URL: z.url().optional(),
  CLAWPORT_EMBEDDING_API_KEY: z.string().optional(),
  CLAWPORT_AUDIT_RETENTION_DAYS: z.coerce.number().int().min(0).default(90),
  CLAWPORT_MODEL_PRIVATE_URLS: z.enum(['allow', 'deny']).default('deny'),
  CLAWPORT_LLM_FIRST_BYTE_TIMEOUT_MS: intFrom(30_000),
  CLAWPORT_LLM_IDLE_TIMEOUT_MS: intFrom(60_000),
  CLAWPORT_LLM_TOTAL_TIMEOUT_MS: intFrom(10 * 60_000),
  CLAWPORT_TURN_TIMEOUT_MS: intFrom(15 * 60_000),
  CLAWPORT_SCHEDULE_MIN_INTERVAL_S: z.coerce.number().int().min(1).default(60),
  CLAWPORT_POOL_SIZE: intFrom(1),
  CLAWPORT_POOL_PLAN: z.string().min(1).optional(),
  CLAWPORT_POOL_MEMORY_MB: z.coerce.number().int().min(0).optional(),
  CLAWPORT_BOOT_CONCURRENCY: z.coerce.number().int().min(1).default(2),
  CLAWPORT_SIGNUP: z.enum(['open', 'off']).default('off'),
  CLAWPORT_SESSION_TTL_HOURS: z.coerce
    .number()
    .positive()
    .default(24 * 14),
  CLAWPORT_WEB_DIR: z.string().min(1).optional(),
  CLAWPORT_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  CLAWPORT_TRUST_PROXY: z
    .string()
    .regex(/^[0-9a-fA-F.:/, ]+$/, 'must be a comma-separated list of proxy addresses or CIDR ranges')
    .optional(),
})

/** The shared OpenClaw runtime installed by scripts/setup.sh (`<repo>/runtime/openclaw`). */
export const DEFAULT_OPENCLAW_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../runtime/openclaw',
)

/** The built dashboard (`vite build` of web/, run by scripts/setup.sh). */
export const DEFAULT_WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../web/dist')

/** The HTTP server: where it listens, what it accepts, and the dashboard's sign-ins. */
export interface HttpConfig {
  host: string
  port: number
  publicUrl?: string
  /**
   * CLAWPORT_TRUST_PROXY: the reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For
   * and X-Forwarded-Proto are believed; none by default, so a client cannot forge its address.
   */
  trustProxy: string[]
  rateLimitPerMin: number
  /** Exec, file and chat requests per instance per minute, whatever key makes them (0: no limit). */
  instanceRateLimitPerMin: number
  bodyLimitBytes: number
  /** Longest wait for a request's headers and whole body (a streamed upload: see below). */
  requestTimeoutMs: number
  /** A streamed upload that brings almost nothing for this long is cut. */
  uploadIdleTimeoutMs: number
  /** How long a WebSocket ticket may wait before it is used. */
  wsTicketTtlMs: number
  /** `open`: anyone may create an account in the dashboard (with the default plan). */
  signup: 'open' | 'off'
  /** A dashboard sign-in lasts this long after its last use. */
  sessionTtlMs: number
  /** Static files of the dashboard; served with an SPA fallback for non-/api paths. */
  webDir: string
  /** A bearer token that may read GET /metrics besides an administrator's key. */
  metricsToken: string | null
}

/** Where state lives: SQLite in the data folder (one server) or a shared PostgreSQL (replicas). */
export interface StoreConfig {
  /** SQLite in the data folder (embedded), or PostgreSQL when `databaseUrl` is set (replicas). */
  kind: 'sqlite' | 'postgres'
  /** CLAWPORT_DATABASE_URL: the PostgreSQL every replica shares. */
  databaseUrl?: string
  /**
   * CLAWPORT_SECRET_KEY: the key that seals provider and channel secrets, shared by every
   * replica; without it the key is a file in the data folder (one server).
   */
  secretKey?: string
  /** Audit entries older than this many days are removed; 0 keeps them forever. */
  auditRetentionDays: number
}

/** How the instance driver builds each sandbox on this host. */
export interface DriverConfig {
  kind: 'local'
  uidBase: number
  tmpSizeMb: number
  /** Open files per process inside a sandbox (soft and hard RLIMIT_NOFILE). */
  sandboxOpenFiles: number
  /** CPU cores kept from instances: no instance, nor all together, may use more than the rest. */
  cpuReserve: number
  diskQuota: 'auto' | 'off'
  /**
   * The DNS server networked instances use: `public` ones directly, `allowlist` ones through
   * their filtering resolver. Default: slirp4netns's forwarder to the host's own resolver.
   */
  networkDns: string
  /** Every instance runs a desktop (Xtigervnc + openbox) of this size; off: none. */
  desktop: 'on' | 'off'
  desktopGeometry: { width: number; height: number }
  /**
   * A ready gateway is asked for its health this often, and given this long to answer; one that
   * misses three times in a row is killed and restarted.
   */
  gatewayLivenessMs: number
  /** The shared OpenClaw runtime folder (holds node_modules/openclaw), bound read-only inside. */
  openclawDir: string
}

/** How instances boot and how their crashes are counted. */
export interface InstancesConfig {
  /** How long a booting instance's clawlet may take to answer. */
  readyTimeoutMs: number
  /** Crashes within this window count towards giving up on an instance (see supervisor.ts). */
  restartWindowMs: number
  /** Instances that may boot (their gateway) at the same time; the rest wait their turn. */
  bootConcurrency: number
}

/** The OpenClaw gateway in every instance, and the waits on it. */
export interface GatewayConfig {
  /** Run the OpenClaw gateway in every instance (off: instances have no agent). */
  enabled: boolean
  readyTimeoutMs: number
  /** How long a request that needs a sleeping instance's agent waits for its wake before a 409. */
  wakeWaitMs: number
  /** Longest agent turn before it is cut with `upstream_timeout`. */
  turnTimeoutMs: number
}

/** The model broker: the operator's upstreams and its own limits on an upstream call. */
export interface BrokerConfig {
  /** The operator's model upstream (OpenAI-compatible); users may set their own. */
  llm: { baseUrl?: string; apiKey?: string; model?: string }
  /** The operator's embedding model (memory search); at the chat model's URL unless set apart. */
  embedding: { baseUrl?: string; apiKey?: string; model?: string }
  /** Whether a user-set model (or webhook) URL may point at private addresses (single-user hosts). */
  modelPrivateUrls: boolean
  firstByteTimeoutMs: number
  idleTimeoutMs: number
  totalTimeoutMs: number
}

/** Warm instances kept ready for instant creates (see pool-plans.ts). */
export interface PoolConfig {
  /** Ready, unassigned instances kept per plan, where a plan names none (0: none). */
  size: number
  /** Only this plan has a pool; absent: every plan. */
  plan?: string
  /** The memory the default pools may hold at rest, all plans together. */
  memoryMb: number
}

/** The hosts that run instances: this server's own and the registered runners. */
export interface FleetConfig {
  /**
   * CLAWPORT_RUNNER_TOKEN: the secret every replica and runner share; replicas reach runners and
   * runners reach replicas only with credentials derived from it. Unset: no remote runner.
   */
  runnerToken?: string
  /**
   * CLAWPORT_LOCAL_INSTANCES: whether this server also runs instances itself (its in-process
   * runner): `auto` only while no runner is registered, `on` always, `off` never.
   */
  localInstances: 'auto' | 'on' | 'off'
  /** CLAWPORT_RUNNER_LABELS (a runner's): `name=value` pairs plans may ask for. */
  runnerLabels: Record<string, string>
  maxInstances: number
}

/** Files and commands inside instances. */
export interface WorkspaceConfig {
  maxUploadBytes: number
  readLimitBytes: number
  execTimeoutMs: number
  execMaxTimeoutMs: number
}

/** Stored pipelines. */
export interface PipelinesConfig {
  /** A pipeline's schedule may fire at most once this often. */
  scheduleMinIntervalS: number
}

/**
 * Everything the server reads from its environment, validated once at start, by part: each
 * service takes the parts it reads. Only what several parts share is at the top.
 */
export interface Config {
  dataDir: string
  logLevel: z.infer<typeof EnvSchema>['CLAWPORT_LOG_LEVEL']
  /**
   * This process among the replicas: who owns a turn, a lease or a lock. Unique per process
   * (host name, pid and a random part), never reused after a restart.
   */
  replicaId: string
  plans: PlanSpec[]
  defaultPlan: string
  http: HttpConfig
  store: StoreConfig
  driver: DriverConfig
  instances: InstancesConfig
  gateway: GatewayConfig
  broker: BrokerConfig
  pool: PoolConfig
  fleet: FleetConfig
  workspace: WorkspaceConfig
  pipelines: PipelinesConfig
}

/** What `loadConfig` callers may set over the environment: any top-level key, or some keys of a part. */
export type ConfigOverrides = {
  [K in keyof Config]?: Config[K] extends unknown[]
    ? Config[K]
    : Config[K] extends object
      ? Partial<Config[K]>
      : Config[K]
}

export class ConfigError extends Error {}

/** Why PostgreSQL needs CLAWPORT_SECRET_KEY: each replica's own key file would seal with another key. */
export const SECRET_KEY_REQUIRED =
  'invalid configuration:\n  CLAWPORT_SECRET_KEY: required with CLAWPORT_DATABASE_URL; set it to the same value on every replica (generate one with: openssl rand -base64 32)'

/** Parses and validates every CLAWPORT_* variable; throws a readable list of what is wrong. */
export function loadConfig(
  env: NodeJS.ProcessEnv,
  overrides: ConfigOverrides = {},
  /** A runner seals nothing: the shared key never goes to an instance host. */
  opts: { sealsSecrets?: boolean } = {},
): Config {
  const parsed = EnvSchema.safeParse(env)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`)
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`)
  }
  const e = parsed.data
  const config = withOverrides(
    {
      dataDir: path.resolve(e.CLAWPORT_DATA_DIR),
      logLevel: e.CLAWPORT_LOG_LEVEL,
      replicaId: `${os.hostname()}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`,
      plans: e.CLAWPORT_PLANS,
      defaultPlan: e.CLAWPORT_DEFAULT_PLAN,
      http: {
        host: e.CLAWPORT_HOST,
        port: e.CLAWPORT_PORT,
        publicUrl: e.CLAWPORT_PUBLIC_URL,
        trustProxy:
          e.CLAWPORT_TRUST_PROXY?.split(',')
            .map((a) => a.trim())
            .filter(Boolean) ?? [],
        rateLimitPerMin: e.CLAWPORT_RATE_LIMIT_PER_MIN,
        instanceRateLimitPerMin: e.CLAWPORT_INSTANCE_RATE_LIMIT_PER_MIN,
        bodyLimitBytes: e.CLAWPORT_BODY_LIMIT_BYTES,
        requestTimeoutMs: e.CLAWPORT_REQUEST_TIMEOUT_MS,
        uploadIdleTimeoutMs: e.CLAWPORT_UPLOAD_IDLE_TIMEOUT_MS,
        wsTicketTtlMs: e.CLAWPORT_WS_TICKET_TTL_MS,
        signup: e.CLAWPORT_SIGNUP,
        sessionTtlMs: Math.round(e.CLAWPORT_SESSION_TTL_HOURS * 3_600_000),
        webDir: path.resolve(e.CLAWPORT_WEB_DIR ?? DEFAULT_WEB_DIR),
        metricsToken: e.CLAWPORT_METRICS_TOKEN ?? null,
      },
      store: {
        kind: e.CLAWPORT_DATABASE_URL ? 'postgres' : 'sqlite',
        databaseUrl: e.CLAWPORT_DATABASE_URL,
        secretKey: e.CLAWPORT_SECRET_KEY,
        auditRetentionDays: e.CLAWPORT_AUDIT_RETENTION_DAYS,
      },
      driver: {
        kind: e.CLAWPORT_DRIVER,
        uidBase: e.CLAWPORT_UID_BASE,
        tmpSizeMb: e.CLAWPORT_TMP_SIZE_MB,
        sandboxOpenFiles: e.CLAWPORT_SANDBOX_OPEN_FILES,
        cpuReserve: e.CLAWPORT_CPU_RESERVE,
        diskQuota: e.CLAWPORT_DISK_QUOTA,
        networkDns: e.CLAWPORT_NETWORK_DNS,
        desktop: e.CLAWPORT_DESKTOP,
        desktopGeometry: e.CLAWPORT_DESKTOP_GEOMETRY,
        gatewayLivenessMs: e.CLAWPORT_GATEWAY_LIVENESS_MS,
        openclawDir: path.resolve(e.CLAWPORT_OPENCLAW_DIR ?? DEFAULT_OPENCLAW_DIR),
      },
      instances: {
        readyTimeoutMs: e.CLAWPORT_READY_TIMEOUT_MS,
        restartWindowMs: e.CLAWPORT_RESTART_WINDOW_MS,
        bootConcurrency: e.CLAWPORT_BOOT_CONCURRENCY,
      },
      gateway: {
        enabled: e.CLAWPORT_GATEWAY === 'on',
        readyTimeoutMs: e.CLAWPORT_GATEWAY_READY_TIMEOUT_MS,
        wakeWaitMs: e.CLAWPORT_WAKE_WAIT_MS,
        turnTimeoutMs: e.CLAWPORT_TURN_TIMEOUT_MS,
      },
      broker: {
        llm: {
          baseUrl: e.CLAWPORT_LLM_BASE_URL,
          apiKey: e.CLAWPORT_LLM_API_KEY || undefined,
          model: e.CLAWPORT_LLM_MODEL,
        },
        embedding: {
          baseUrl: e.CLAWPORT_EMBEDDING_BASE_URL ?? e.CLAWPORT_LLM_BASE_URL,
          // The chat key goes only to the chat model's own URL.
          apiKey:
            e.CLAWPORT_EMBEDDING_API_KEY ||
            (e.CLAWPORT_EMBEDDING_BASE_URL ? undefined : e.CLAWPORT_LLM_API_KEY || undefined),
          model: e.CLAWPORT_EMBEDDING_MODEL,
        },
        modelPrivateUrls: e.CLAWPORT_MODEL_PRIVATE_URLS === 'allow',
        firstByteTimeoutMs: e.CLAWPORT_LLM_FIRST_BYTE_TIMEOUT_MS,
        idleTimeoutMs: e.CLAWPORT_LLM_IDLE_TIMEOUT_MS,
        totalTimeoutMs: e.CLAWPORT_LLM_TOTAL_TIMEOUT_MS,
      },
      pool: {
        size: e.CLAWPORT_POOL_SIZE,
        plan: e.CLAWPORT_POOL_PLAN,
        // A quarter of the host: warm instances serve nobody until they are claimed.
        memoryMb: e.CLAWPORT_POOL_MEMORY_MB ?? Math.floor(os.totalmem() / 4 / 2 ** 20),
      },
      fleet: {
        runnerToken: e.CLAWPORT_RUNNER_TOKEN,
        localInstances: e.CLAWPORT_LOCAL_INSTANCES,
        runnerLabels: e.CLAWPORT_RUNNER_LABELS,
        maxInstances: e.CLAWPORT_MAX_INSTANCES,
      },
      workspace: {
        maxUploadBytes: e.CLAWPORT_MAX_UPLOAD_BYTES,
        readLimitBytes: e.CLAWPORT_READ_LIMIT_BYTES,
        execTimeoutMs: e.CLAWPORT_EXEC_TIMEOUT_MS,
        execMaxTimeoutMs: e.CLAWPORT_EXEC_MAX_TIMEOUT_MS,
      },
      pipelines: { scheduleMinIntervalS: e.CLAWPORT_SCHEDULE_MIN_INTERVAL_S },
    },
    overrides,
  )
  if (overrides.dataDir) config.dataDir = path.resolve(overrides.dataDir)
  if (!config.plans.some((p) => p.name === config.defaultPlan)) {
    throw new ConfigError(
      `invalid configuration:\n  CLAWPORT_DEFAULT_PLAN: no plan named "${config.defaultPlan}"`,
    )
  }
  if (config.pool.plan && !config.plans.some((p) => p.name === config.pool.plan)) {
    throw new ConfigError(`invalid configuration:\n  CLAWPORT_POOL_PLAN: no plan named "${config.pool.plan}"`)
  }
  if (config.store.kind === 'postgres' && !config.store.secretKey && opts.sealsSecrets !== false)
    throw new ConfigError(SECRET_KEY_REQUIRED)
  return config
}

/** Each override replaces a top-level key, or the keys it names of a part (one level deep). */
function withOverrides(config: Config, overrides: ConfigOverrides): Config {
  const out: Record<string, unknown> = { ...config }
  for (const [key, value] of Object.entries(overrides)) {
    const base = out[key]
    const isPart = typeof base === 'object' && base !== null && !Array.isArray(base)
    out[key] = isPart && typeof value === 'object' && value !== null ? { ...base, ...value } : value
  }
  return out as unknown as Config
}

/** The plan with the most instances: what the first administrator gets. */
export function largestPlan(plans: PlanSpec[]): string {
  return [...plans].sort((a, b) => b.instance_limit - a.instance_limit)[0]?.name ?? 'free'
}
