import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openSandboxLog } from '../src/drivers/local/instance-files.js'
import { spawnSandbox } from '../src/drivers/local/launch.js'

/** A launch whose sandbox never reports its child: the error says what the launcher was doing. */
function launch(dir: string, file: string, args: string[]) {
  const log = path.join(dir, 'sandbox.log')
  const argsFile = path.join(dir, 'args')
  fs.writeFileSync(argsFile, '')
  return spawnSandbox({
    file,
    args,
    seccompFile: '/dev/null',
    statusFile: path.join(dir, 'status'),
    logFd: openSandboxLog(log, null),
    logFile: log,
    argsFile,
    seccompFd: 3,
    statusFd: 4,
    hostUid: null,
    timeoutMs: 400,
  })
}

describe('a sandbox that does not start in time', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-launch-'))
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('names what its launcher was doing and that its log is empty, not an empty cause', async () => {
    const err = (await launch(dir, '/bin/sleep', ['30']).catch((e: Error) => e)) as Error
    expect(err.message).toMatch(/^sandbox did not start within 400 ms \(sleep \(pid \d+\) was still sleeping/)
    expect(err.message).toMatch(/it wrote nothing to its log$/)
    const pid = Number(/pid (\d+)/.exec(err.message)?.[1])
    // It was killed, not left behind.
    await new Promise((r) => setTimeout(r, 100))
    expect(
      fs.existsSync(`/proc/${pid}/stat`) && !/\) [ZX] /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')),
    ).toBe(false)
  })

  it('gives the end of its log when it wrote one', async () => {
    const err = (await launch(dir, '/bin/sh', [
      '-c',
      'echo "bwrap: cannot mount proc" >&2; exec sleep 30',
    ]).catch((e: Error) => e)) as Error
    expect(err.message).toMatch(/its log ends: bwrap: cannot mount proc$/)
  })
})
