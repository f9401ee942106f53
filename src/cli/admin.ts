import { createServices, type Services } from '../core/services.js'
import { createLogger } from '../log.js'
import { COMMON_OPTIONS, configFrom, parseFlags, UsageError } from './args.js'

const HELP = `Usage: clawport admin <command> [options] [--data-dir ./.clawport]

  user create --email E [--password P] [--admin] [--plan NAME]
  key create --email E [--name N]                 prints the key on the last line
  invite create [--uses N] [--plan NAME] [--expires-in DAYS]
                                                  prints the code on the last line
  plan set --email E --plan NAME                  puts the user on the plan (active subscription)
  plan list
  runner list                                     runners with health, state, capacity and load
  runner drain NAME                               keeps its instances, takes no new ones
  runner undrain NAME                             takes new instances again
  runner remove NAME                              forgets a runner that holds no instance`

type Handler = (argv: string[]) => Promise<string[]>

function required(value: string | boolean | undefined, flag: string): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${flag} is required\n\n${HELP}`)
  return value
}

function numberFlag(value: string | boolean | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (typeof value !== 'string' || !Number.isFinite(n)) throw new UsageError(`--${flag} must be a number`)
  return n
}

async function withServices<T>(
  dataDir: string | boolean | undefined,
  fn: (s: Services) => Promise<T>,
): Promise<T> {
  const config = configFrom({ 'data-dir': dataDir })
  const services = await createServices(config, createLogger('warn'))
  try {
    return await fn(services)
  } finally {
    await services.close()
  }
}

const HANDLERS: Record<string, Handler> = {
  'user create': async (argv) => {
    const { values: v } = parseFlags(argv, {
      ...COMMON_OPTIONS,
      email: { type: 'string' },
      password: { type: 'string' },
      admin: { type: 'boolean' },
      plan: { type: 'string' },
    })
    return withServices(v['data-dir'], async (s) => {
      const user = await s.accounts.createUser({
        email: required(v.email, 'email'),
        password: v.password,
        admin: v.admin,
        plan: v.plan,
      })
      const me = await s.accounts.me(user.id)
      return [`created user ${user.email} (id ${user.id}, plan ${me.plan}${user.is_admin ? ', admin' : ''})`]
    })
  },
  'key create': async (argv) => {
    const { values: v } = parseFlags(argv, {
      ...COMMON_OPTIONS,
      email: { type: 'string' },
      name: { type: 'string' },
    })
    return withServices(v['data-dir'], async (s) => {
      const user = await s.accounts.userByEmail(required(v.email, 'email'))
      const key = await s.keys.create(user.id, typeof v.name === 'string' ? v.name : 'cli')
      return [`created API key ${key.id} "${key.name}" for ${user.email}; it is shown this once:`, key.key]
    })
  },
  'invite create': async (argv) => {
    const { values: v } = parseFlags(argv, {
      ...COMMON_OPTIONS,
      uses: { type: 'string' },
      plan: { type: 'string' },
      'expires-in': { type: 'string' },
    })
    return withServices(v['data-dir'], async (s) => {
      const invite = await s.invites.create({
        uses: numberFlag(v.uses, 'uses'),
        plan: typeof v.plan === 'string' ? v.plan : undefined,
        expiresInDays: numberFlag(v['expires-in'], 'expires-in'),
      })
      const expiry = invite.expires_at ? `, expires ${invite.expires_at}` : ''
      return [`created invite for plan ${invite.plan} with ${invite.max_uses} use(s)${expiry}:`, invite.code]
    })
  },
  'plan set': async (argv) => {
    const { values: v } = parseFlags(argv, {
      ...COMMON_OPTIONS,
      email: { type: 'string' },
      plan: { type: 'string' },
    })
    return withServices(v['data-dir'], async (s) => {
      const email = required(v.email, 'email')
      const plan = required(v.plan, 'plan')
      await s.accounts.setPlan(email, plan)
      return [`${email} is now on plan ${plan} (subscription active)`]
    })
  },
  'plan list': async (argv) => {
    const { values: v } = parseFlags(argv, COMMON_OPTIONS)
    return withServices(v['data-dir'], async (s) =>
      (await s.store.plans.list()).map(
        (p) =>
          `${p.name}: ${p.instance_limit} instances, ${p.memory_mb} MiB, ${p.cpus} CPU, ${p.pids_max} processes, ${p.disk_mb} MiB disk`,
      ),
    )
  },
  'runner list': async (argv) => {
    const { values: v } = parseFlags(argv, COMMON_OPTIONS)
    return withServices(v['data-dir'], async (s) => {
      const { local, runners } = await s.runners.overview()
      const lines = runners.map(
        (r) =>
          `${r.name}  ${r.health}  ${r.state}  ${r.address}  ${r.used.instances}/${r.capacity.instances} instances  ` +
          `${r.used.memory_mb}/${r.capacity.memory_mb} MB  heartbeat ${r.heartbeat_at}` +
          (Object.keys(r.labels).length
            ? `  ${Object.entries(r.labels)
                .map(([k, val]) => `${k}=${val}`)
                .join(',')}`
            : ''),
      )
      lines.push(
        `local (this server)  ${local.enabled ? 'takes new instances' : 'takes no new instances'}  ${local.used.instances} instances  ${local.used.memory_mb} MB`,
      )
      return runners.length ? lines : ['no runner is registered', ...lines]
    })
  },
  ...runnerCommand('drain', async (s, name) => {
    const r = await s.runners.setState(name, 'draining')
    return `${r.name} is draining: it keeps its ${r.used.instances} instances and takes no new ones`
  }),
  ...runnerCommand('undrain', async (s, name) => {
    const r = await s.runners.setState(name, 'active')
    return `${r.name} takes new instances again`
  }),
  ...runnerCommand('remove', async (s, name) => {
    await s.runners.remove(name)
    return `${name} removed`
  }),
}

/** `runner <verb> NAME`: one runner, named by its name or id. */
function runnerCommand(
  verb: string,
  fn: (s: Services, name: string) => Promise<string>,
): Record<string, Handler> {
  return {
    [`runner ${verb}`]: async (argv) => {
      const [name, ...flags] = argv
      if (!name || name.startsWith('-')) throw new UsageError(`usage: clawport admin runner ${verb} NAME`)
      const { values: v } = parseFlags(flags, COMMON_OPTIONS)
      return withServices(v['data-dir'], async (s) => [await fn(s, name)])
    },
  }
}

/** `clawport admin ...`: account administration straight on the store. */
export async function admin(argv: string[]): Promise<number> {
  const [noun, verb, ...rest] = argv
  if (!noun || noun === '--help' || noun === '-h') {
    process.stdout.write(`${HELP}\n`)
    return noun ? 0 : 1
  }
  const handler = HANDLERS[`${noun} ${verb ?? ''}`]
  if (!handler) {
    const words = [noun, verb].filter((w) => w && !w.startsWith('-')).join(' ')
    throw new UsageError(`unknown admin command "${words}"\n\n${HELP}`)
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${HELP}\n`)
    return 0
  }
  const lines = await handler(rest)
  process.stdout.write(`${lines.join('\n')}\n`)
  return 0
}
