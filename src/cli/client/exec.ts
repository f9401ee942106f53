import { UsageError } from '../args.js'
import type { Command, Ctx } from './command.js'

interface ExecResult {
  stdout: string
  stderr: string
  exit_code: number | null
  timed_out: boolean
}

const OPTIONS = {
  'timeout-ms': { type: 'string' },
  cwd: { type: 'string' },
} as const

/** `clawport exec <command...>`: prints the output and exits with the command's code. */
async function run(ctx: Ctx<typeof OPTIONS>): Promise<number> {
  const command = ctx.args.join(' ')
  if (!command) throw new UsageError('give the command to run: clawport exec "ls -la"')
  const id = await ctx.api.instanceId(ctx.flags.instance)
  const res = await ctx.api.json<ExecResult>('POST', `/instances/${id}/terminal/exec`, {
    body: {
      command,
      ...(ctx.flags['timeout-ms'] ? { timeout_ms: Number(ctx.flags['timeout-ms']) } : {}),
      ...(ctx.flags.cwd ? { cwd: ctx.flags.cwd } : {}),
    },
  })
  if (ctx.flags.json) {
    ctx.out(res)
    return 0
  }
  process.stdout.write(res.stdout)
  process.stderr.write(res.stderr)
  if (res.timed_out) process.stderr.write('clawport: the command timed out and was killed\n')
  return res.exit_code ?? (res.timed_out ? 124 : 1)
}

export const command: Command<typeof OPTIONS> = {
  usage: '  clawport exec <command...> [--timeout-ms N] [--cwd DIR]',
  options: OPTIONS,
  run,
}
