import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { REPO } from './server.js'

export const CLI = path.join(REPO, 'bin/clawport.js')

export interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs a program to its end; never throws on a non-zero exit. */
export function runProgram(
  file: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      {
        env: { ...process.env, ...opts.env },
        cwd: opts.cwd,
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
        resolve({ code, stdout: String(stdout), stderr: String(stderr) })
      },
    )
    if (opts.input !== undefined) child.stdin?.end(opts.input)
    else child.stdin?.end()
  })
}

/** Runs `node <script> args` with the project's Node. */
export const runNode = (script: string, args: string[], opts: Parameters<typeof runProgram>[2] = {}) =>
  runProgram(process.execPath, [script, ...args], opts)

/** The client environment for a server and key. */
export function clientEnv(url: string, key: string, instanceId?: string): Record<string, string> {
  return {
    OPENCLAW_API_BASE_URL: `${url}/api`,
    OPENCLAW_API_KEY: key,
    ...(instanceId ? { OPENCLAW_INSTANCE_ID: instanceId } : { OPENCLAW_INSTANCE_ID: '' }),
  }
}

/** The ```sh blocks of a markdown document, in order. */
export function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string)
}

/**
 * Runs documentation examples in order in one bash, as a reader pasting them would, with
 * `clawport` on PATH and curl failing on HTTP errors (so an example that answers 4xx fails), in
 * a scratch folder removed afterwards.
 */
export async function runExamples(blocks: string[], env: Record<string, string>): Promise<Run> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-examples-'))
  const bin = path.join(dir, '.bin')
  fs.mkdirSync(bin)
  fs.writeFileSync(path.join(bin, 'clawport'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, {
    mode: 0o755,
  })
  fs.writeFileSync(path.join(bin, 'node'), `#!/bin/sh\nexec "${process.execPath}" "$@"\n`, { mode: 0o755 })
  const script = [
    'set -euo pipefail',
    'curl() { command curl --fail-with-body "$@"; }',
    ...blocks.map((b, i) => `echo "--- example ${i + 1}" >&2\n${b}`),
  ].join('\n')
  try {
    return await runProgram('bash', ['-c', script], {
      env: { ...env, PATH: `${bin}:${process.env.PATH}` },
      cwd: dir,
      timeoutMs: 180_000,
    })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
