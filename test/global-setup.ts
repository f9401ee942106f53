import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'

const REPO = path.resolve(import.meta.dirname, '..')

/**
 * Builds `dist/` once for the whole run: servers and sandboxes run it, so it must be the
 * current source. Test files then only check it is there (see `buildOnce`).
 */
export default function setup(): void {
  // Every project runs this in the one main process: the first builds, the others find it done.
  if (process.env.CLAWPORT_TEST_BUILT === '1') return
  const t0 = Date.now()
  try {
    execFileSync(path.join(REPO, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], {
      cwd: REPO,
      stdio: 'pipe',
    })
  } catch {
    // Type errors elsewhere in the tree do not stop tsc from emitting; the type-check step reports them.
  }
  if (!existsSync(path.join(REPO, 'dist/clawlet/main.js')))
    throw new Error('the build did not emit the clawlet')
  buildSkill()
  // Test processes are forked after this, with this environment.
  process.env.CLAWPORT_TEST_BUILT = '1'
  console.log(`test: built dist/ in ${Date.now() - t0} ms`)
}

/** The skill bundle's client script and what it is bundled from. */
const SKILL_SCRIPT = path.join(REPO, 'dist/skills/clawport/clawport.mjs')
const SKILL_SOURCES = ['src/skill-client', 'packages/sdk/src']

/** Bundles the skill's client script when it is missing or older than a source (else ~1 ms). */
function buildSkill(): void {
  const built = existsSync(SKILL_SCRIPT) ? statSync(SKILL_SCRIPT).mtimeMs : 0
  const newest = Math.max(
    ...SKILL_SOURCES.flatMap((dir) =>
      readdirSync(path.join(REPO, dir)).map((f) => statSync(path.join(REPO, dir, f)).mtimeMs),
    ),
  )
  if (built > newest) return
  execFileSync(path.join(REPO, 'node_modules/.bin/rolldown'), ['-c', 'src/skill-client/rolldown.config.ts'], {
    cwd: REPO,
    stdio: 'pipe',
  })
}
