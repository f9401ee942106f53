import { pruneDataFolders } from '../drivers/local/host-registry.js'
import { cleanOrphans, describeOrphan, findOrphans } from '../drivers/local/orphans.js'
import { parseFlags } from './args.js'

const HELP = `Usage: clawport doctor --orphans [--clean]

Lists what instances left on this host that no data folder knows: sandboxes and their
cgroups, disk mounts, loop devices and network helpers (after a data folder was deleted
while its instances ran, say). With --clean, stops and removes them. Needs root.`

/** `clawport doctor --orphans [--clean]`: exits 0 when nothing is (or remains) orphaned. */
export async function orphans(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    orphans: { type: 'boolean' },
    clean: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help) {
    process.stdout.write(`${HELP}\n`)
    return 0
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      'clawport: doctor --orphans needs root (sandboxes, cgroups and disks are root-owned)\n',
    )
    return 2
  }
  const found = await findOrphans()
  if (found.length === 0) {
    process.stdout.write(
      'no orphans: every sandbox, cgroup, disk and network helper on this host belongs to a data folder\n',
    )
    if (values.clean)
      for (const dir of await pruneDataFolders()) process.stdout.write(`forgot ${dir} (gone)\n`)
    return 0
  }
  process.stdout.write(
    `${found.length} orphan${found.length === 1 ? '' : 's'} (no data folder knows them):\n`,
  )
  for (const o of found) process.stdout.write(`  ${describeOrphan(o)}\n`)
  if (!values.clean) {
    process.stdout.write('remove them with: clawport doctor --orphans --clean\n')
    return 1
  }
  const failed = await cleanOrphans(found)
  for (const dir of await pruneDataFolders()) process.stdout.write(`forgot ${dir} (gone)\n`)
  const left = await findOrphans()
  for (const f of failed)
    process.stderr.write(`clawport: could not remove ${describeOrphan(f.orphan)}: ${f.error}\n`)
  if (left.length === 0) {
    process.stdout.write(`removed ${found.length}; none remain\n`)
    return 0
  }
  process.stdout.write(`${left.length} remain:\n`)
  for (const o of left) process.stdout.write(`  ${describeOrphan(o)}\n`)
  return 1
}
