import { readFileSync } from 'node:fs'
import path from 'node:path'
import { defineConfig } from 'rolldown'

const REPO = path.resolve(import.meta.dirname, '../..')
const SOURCE = path.join(REPO, 'src/skill-client/clawport.ts')

/** The line src/http/docs/skill.ts fills in with the serving origin, as the source writes it. */
const SERVED_FROM = `const SERVED_FROM = '{{ORIGIN}}'`

/** The source's opening comment (after the shebang): the bundler drops line comments. */
function header(): string {
  const lines = readFileSync(SOURCE, 'utf8').split('\n').slice(1)
  const end = lines.findIndex((l) => !l.startsWith('//'))
  return lines.slice(0, end).join('\n')
}

/**
 * The skill bundle's client script: src/skill-client/clawport.ts and the SDK in one ES module
 * for Node 18+ with nothing to install (`npm run build:skill`).
 */
export default defineConfig({
  input: SOURCE,
  platform: 'node',
  tsconfig: path.join(REPO, 'tsconfig.json'),
  transform: { target: 'node18' },
  output: { file: path.join(REPO, 'dist/skills/clawport/clawport.mjs'), format: 'esm', banner: header },
  plugins: [
    {
      // Printing normalises quotes; the served line keeps the source's, which the docs quote.
      name: 'served-from',
      generateBundle(_options, bundle) {
        const printed = SERVED_FROM.replaceAll("'", '"')
        for (const chunk of Object.values(bundle)) {
          if (chunk.type !== 'chunk') continue
          if (!chunk.code.includes(printed)) throw new Error(`the bundle lost its ${SERVED_FROM} line`)
          chunk.code = chunk.code.replace(printed, SERVED_FROM)
        }
      },
    },
  ],
})
