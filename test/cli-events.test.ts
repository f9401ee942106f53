import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcess, inProcess } from './helpers/app.js'
import { CLI, clientEnv, runNode } from './helpers/clients.js'
import { TEST_PLANS } from './helpers/plans.js'
import { insertInstanceRow } from './helpers/rows.js'
import { waitFor } from './helpers/wait.js'

/** `clawport webhooks ...` and `clawport instances events` against a server on a port. */
describe('the CLI for lifecycle events and webhooks', () => {
  let t: InProcess
  let url: string
  let key: string
  let id: string
  const cli = (args: string[]) => runNode(CLI, args, { env: clientEnv(url, key) })

  beforeAll(async () => {
    t = await inProcess({ CLAWPORT_PLANS: TEST_PLANS, CLAWPORT_MODEL_PRIVATE_URLS: 'allow' })
    url = await t.app.listen({ port: 0, host: '127.0.0.1' })
    key = await t.user('cli@example.com', 'team')
    const user = await t.services.accounts.userByEmail('cli@example.com')
    id = await insertInstanceRow(t.services.store, user.id)
    await t.services.events.record(id, 'starting')
    await t.services.events.record(id, 'crashed', { reason: 'killed by SIGKILL (exit code 137)' })
  })
  afterAll(async () => t?.close())

  it('creates, lists and deletes a webhook, showing its secret once', async () => {
    const created = await cli([
      'webhooks',
      'create',
      'http://127.0.0.1:9/hook',
      '--events',
      'crashed,oom_killed',
    ])
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toMatch(/secret \(shown once, keep it\): whsec_/)
    const hookId = /^([0-9a-f-]{36}) /.exec(created.stdout)?.[1] as string
    const listed = await cli(['webhooks', 'list', '--json'])
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ id: hookId, events: ['crashed', 'oom_killed'] }),
    ])
    expect(listed.stdout).not.toContain('whsec_')
    expect((await cli(['webhooks', 'deliveries', hookId, '--json'])).stdout.trim()).toBe('[]')
    expect((await cli(['webhooks', 'delete', hookId])).stdout).toContain(`deleted ${hookId}`)
    const refused = await cli(['webhooks', 'create', 'ftp://example.org/x'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/HTTP 422: The webhook URL must be http/)
  })

  it("prints an instance's events, and follows new ones", async () => {
    const listed = await cli(['instances', 'events', id])
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout).toMatch(/starting[\s\S]*crashed\s+killed by SIGKILL \(exit code 137\)/)
    const child = spawn(process.execPath, [CLI, 'instances', 'events', id, '--follow', '--json'], {
      env: { ...process.env, ...clientEnv(url, key) },
    })
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
    })
    try {
      const printed = (type: string) =>
        waitFor(
          () => `the ${type} event printed: ${JSON.stringify(out)}`,
          () => out.includes(`"${type}"`),
          {
            timeoutMs: 10_000,
            intervalMs: 50,
          },
        )
      await printed('crashed')
      await t.services.events.record(id, 'restarted', { reason: 'sandbox exited unexpectedly' })
      await printed('restarted')
    } finally {
      child.kill()
    }
  })
})
