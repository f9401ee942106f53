import { AppError } from '../errors.js'
import { UsageError } from './args.js'

const USAGE = `Usage: clawport <command> [options]

Commands:
  serve     Run the server (--port 8080 --host 127.0.0.1 --data-dir ./.clawport)
  admin     Manage users, keys, plans, invites and runners (clawport admin --help)
  runner    Run instances on this host for a control plane (clawport runner --help)
  doctor    Check this host for what sandboxes need, and say how to fix what is missing
            (--runner [--server URL]: and what a runner host needs)
  instances, webhooks, channels, chat, files, exec, terminal, mcp
            Drive a Clawport server as a client (clawport instances --help)

Every setting can also come from CLAWPORT_* environment variables (see README).`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve':
      return (await import('./serve.js')).serve(rest)
    case 'admin':
      return (await import('./admin.js')).admin(rest)
    case 'runner':
      return (await import('./runner.js')).runner(rest)
    case 'doctor':
      return (await import('./doctor.js')).doctor(rest)
    case 'instances':
    case 'chat':
    case 'files':
    case 'exec':
    case 'terminal':
    case 'mcp':
    case 'webhooks':
    case 'channels':
      return (await import('./client/index.js')).client(command, rest)
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`)
      return command === undefined ? 1 : 0
    case '--version':
    case 'version':
      process.stdout.write(`${(await import('../version.js')).VERSION}\n`)
      return 0
    default:
      throw new UsageError(`unknown command "${command}"\n\n${USAGE}`)
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof AppError) {
      process.stderr.write(`clawport: ${err.message}\n`)
      process.exitCode = 2
    } else {
      process.stderr.write(`clawport: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
      process.exitCode = 1
    }
  },
)
