import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import type { ICruiseResult, IForbiddenRuleType, IViolation } from 'dependency-cruiser'
import { cruise } from 'dependency-cruiser'
import { beforeAll, describe, expect, it } from 'vitest'
import { UsageError } from '../src/cli/args.js'
import { parseFor } from '../src/cli/client/command.js'

/**
 * The layering rule, kept by the import graph of src/ as dependency-cruiser resolves it (the
 * TypeScript sources, `./x.js` specifiers resolved to `./x.ts`, dynamic imports included):
 * http -> core -> infrastructure (store, drivers, broker, config, log), one way. The clawlet (the
 * daemon inside each instance) and the control plane share only src/wire (and src/lib).
 *
 * Type-only imports count. They vanish at run time, so they cannot break module loading, but a
 * cycle made of them still ties two modules into one design (two `Caller` types, a command that
 * needs its own dispatcher), and http reaching a store row type is http knowing the schema.
 * So no exception is made for them: http imports nothing from src/store, not even types.
 */
const RULES: IForbiddenRuleType[] = [
  { name: 'no-cycle', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
  { name: 'http-not-store', severity: 'error', from: { path: '^src/http/' }, to: { path: '^src/store/' } },
  {
    name: 'store-is-bottom',
    severity: 'error',
    from: { path: '^src/store/' },
    to: { path: '^src/(http|core)/' },
  },
  {
    // The daemon runs inside every instance: it carries only itself, the wire it speaks, the
    // small shared helpers, the errors and the native socket addon, none of the control plane.
    name: 'clawlet-self-contained',
    severity: 'error',
    from: { path: '^src/clawlet/' },
    to: {
      path: '^src/',
      pathNot: '^src/(clawlet|wire|lib)/|^src/(errors|error-codes)[.]ts$|^src/door/unix-socket[.]ts$',
    },
  },
  {
    // The control plane reaches a clawlet only over the wire: its shapes, never its modules.
    name: 'clawlet-internals',
    severity: 'error',
    from: { path: '^src/', pathNot: '^src/clawlet/' },
    to: { path: '^src/clawlet/' },
  },
  {
    name: 'wire-is-shapes',
    severity: 'error',
    from: { path: '^src/wire/' },
    to: { path: '^src/', pathNot: '^src/(wire|lib)/' },
  },
]

/**
 * Cycles known and left for now, each by its modules. Both sit inside one infrastructure folder
 * (no layer is crossed) and want a change of their own; remove an entry once its cycle is gone.
 */
const KNOWN_CYCLES: Array<{ modules: string[]; why: string }> = [
  {
    // cgroups.ts calls freezeAndKill from cgroup-kill.ts, which calls procsOf and takes the
    // cgroup types from cgroups.ts: a cycle at run time.
    modules: ['src/drivers/local/cgroups.ts', 'src/drivers/local/cgroup-kill.ts'],
    why: 'the cgroup paths and the cgroup killer need one module of their own',
  },
  {
    // connect.ts takes the UnixTransport type from transport.ts, which calls doorConnector.
    modules: ['src/door/connect.ts', 'src/door/transport.ts'],
    why: 'the door transport types need a module of their own',
  },
]

/** Whether a cycle runs only through the modules of one known cycle. */
const within = (v: IViolation, modules: string[]) =>
  v.cycle !== undefined && [v.from, ...v.cycle.map((c) => c.name)].every((m) => modules.includes(m))
const known = (v: IViolation) => KNOWN_CYCLES.some((k) => within(v, k.modules))

/** One line per violation: the rule and the chain, with the kind of each import in a cycle. */
function chain(v: IViolation): string {
  if (!v.cycle) return `${v.rule.name}: ${v.from} -> ${v.to} (${(v.dependencyTypes ?? []).join(', ')})`
  const steps = v.cycle.map(
    (c) => `${c.name}${c.dependencyTypes.includes('type-only') ? ' (type-only)' : ''}`,
  )
  return `${v.rule.name}: ${[v.from, ...steps].join(' -> ')}`
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : []
  })
}

describe('module structure', () => {
  let result: ICruiseResult

  beforeAll(async () => {
    const out = await cruise(['src'], {
      ruleSet: { forbidden: RULES },
      validate: true,
      tsPreCompilationDeps: true,
      doNotFollow: { path: 'node_modules' },
      enhancedResolveOptions: {
        exportsFields: ['exports'],
        conditionNames: ['import', 'require', 'node', 'types', 'default'],
      },
    })
    result = out.output as ICruiseResult
  })

  it('resolves every module of src/ and every import between them', () => {
    const sources = result.modules
      .filter((m) => m.source.startsWith('src/') && m.source.endsWith('.ts'))
      .map((m) => m.source)
    expect(sources.sort()).toEqual(tsFiles('src').sort())
    const unresolved = result.modules.flatMap((m) =>
      m.dependencies.filter((d) => d.couldNotResolve).map((d) => `${m.source} -> ${d.module}`),
    )
    expect(unresolved).toEqual([])
  })

  it('has no import cycle in src/ but the known ones', () => {
    const cycles = result.summary.violations.filter((v) => v.rule.name === 'no-cycle')
    expect(cycles.filter((v) => !known(v)).map(chain)).toEqual([])
  })

  it('lists only known cycles that still exist', () => {
    const cycles = result.summary.violations.filter((v) => v.rule.name === 'no-cycle')
    const stale = KNOWN_CYCLES.filter((k) => !cycles.some((v) => within(v, k.modules)))
    expect(stale.map((k) => k.modules.join(' <-> '))).toEqual([])
  })

  it('keeps http off the store: it goes through core', () => {
    const imports = result.summary.violations.filter((v) => v.rule.name === 'http-not-store')
    expect(imports.map(chain)).toEqual([])
    // The graph cannot see the store reached through the services object: look for it. Handing
    // the services to a core function, which takes the store itself, is how http gets there.
    const reached = tsFiles('src/http').flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) => (/\bservices\.store\b/.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
    )
    expect(reached).toEqual([])
  })

  it('keeps the store at the bottom: it imports neither http nor core', () => {
    const imports = result.summary.violations.filter((v) => v.rule.name === 'store-is-bottom')
    expect(imports.map(chain)).toEqual([])
  })

  it('keeps the clawlet and the control plane apart: they share only the wire', () => {
    const names = ['clawlet-self-contained', 'clawlet-internals', 'wire-is-shapes']
    const imports = result.summary.violations.filter((v) => names.includes(v.rule.name))
    expect(imports.map(chain)).toEqual([])
  })

  it('gives each client command its own flags and refuses the others', async () => {
    const { command: webhooks } = await import('../src/cli/client/webhooks.js')
    const { command: instances } = await import('../src/cli/client/instances.js')
    expect(parseFor(instances, ['create', '--wait', '--json']).values).toEqual({ wait: true, json: true })
    expect(() => parseFor(webhooks, ['list', '--wait'])).toThrow(UsageError)
    expect(() => parseFor(webhooks, ['list', '--wait'])).toThrow(webhooks.usage)
    expect(parseFor(webhooks, ['create', 'https://example.com', '--events', 'crashed']).values.events).toBe(
      'crashed',
    )
  })
})
