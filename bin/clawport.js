#!/usr/bin/env node
// Entry point of the `clawport` command. The project pins Node 24 through its `node` npm
// dependency; npm scripts and npx put that binary first on PATH.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 24 || (major === 24 && minor < 16)) {
  process.stderr.write(
    `clawport needs Node >= 24.16 but runs on ${process.version}.\n` +
      'Run it through npm so the pinned runtime is used: npx --no-install clawport <command>\n',
  )
  process.exit(1)
}
await import('../dist/cli/main.js')
