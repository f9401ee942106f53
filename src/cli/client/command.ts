import { type ParseArgsOptionsConfig, parseArgs } from 'node:util'
import { UsageError } from '../args.js'
import type { Api } from './http.js'

/** The flags every client command takes: which server, which instance, how to print. */
export const COMMON = {
  'base-url': { type: 'string' },
  'api-key': { type: 'string' },
  instance: { type: 'string', short: 'i' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig

/** A command's own flags, besides the common ones. */
export type Options = ParseArgsOptionsConfig

type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: typeof COMMON & O; allowPositionals: true; strict: true }>
>

/** The flags a command gets: the common ones and its own. */
export type Flags<O extends Options> = Parsed<O>['values']

/** What a command gets: the API, its words and flags, and how to print. */
export interface Ctx<O extends Options = Record<never, never>> {
  api: Api
  args: string[]
  flags: Flags<O>
  out(value: unknown, human?: (v: any) => string): void
}

/** One client command: its lines of the usage, its own flags, and what it does. */
export interface Command<O extends Options = Options> {
  usage: string
  options: O
  run(ctx: Ctx<O>): Promise<number | undefined>
}

/** Parses a command line strictly with the command's own flags: any other is a usage error. */
export function parseFor<O extends Options>(command: Command<O>, argv: string[]): Parsed<O> {
  try {
    return parseArgs({
      args: argv,
      options: { ...COMMON, ...command.options },
      allowPositionals: true,
      strict: true,
    }) as Parsed<O>
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${command.usage}`)
  }
}
