import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, clientEnv, runNode } from './helpers/clients.js'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'

/** `clawport instances create|update --network allowlist --allow-hosts` against a real server. */
describe('the CLI sets an allowlist', () => {
  let s: TestServer
  let key: string
  const cli = (args: string[]) => runNode(CLI, args, { env: clientEnv(s.url, key) })

  beforeAll(async () => {
    // No instance here looks a name up; its resolver's upstream is a loopback address regardless.
    s = await startServer({ ...TEST_ENV, CLAWPORT_NETWORK_DNS: '127.0.0.53' })
    key = await s.user('cli-allow@example.com', 'allow')
  }, 60_000)
  afterAll(() => s?.destroy())

  it('creates with its own names, refuses a bad mode or name, and changes them once stopped', async () => {
    const made = await cli([
      'instances',
      'create',
      '--network',
      'allowlist',
      '--allow-hosts',
      'pypi.org, *.Example.com',
      '--json',
    ])
    expect(made.code, made.stderr).toBe(0)
    const inst = JSON.parse(made.stdout)
    expect(inst).toMatchObject({ network: 'allowlist', allowed_hosts: ['pypi.org', '*.example.com'] })

    const typo = await cli(['instances', 'create', '--network', 'allow'])
    expect(typo.code).not.toBe(0)
    expect(typo.stderr).toContain('--network is public, allowlist or off')
    const bad = await cli(['instances', 'create', '--allow-hosts', 'http://x.com'])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toContain('"http://x.com" cannot be an allowed host: it must be a bare host name')

    await s.waitStatus(inst.id, 'ready', key)
    const running = await cli(['instances', 'update', inst.id, '--allow-hosts', 'a.test'])
    expect(running.code).not.toBe(0)
    expect(running.stderr).toContain('shut it down to change its network')
    await s.api('POST', `/api/instances/${inst.id}/shutdown`, { key })
    await s.waitStatus(inst.id, 'stopped', key)
    const changed = await cli([
      'instances',
      'update',
      inst.id,
      '--allow-hosts',
      'files.pythonhosted.org',
      '--json',
    ])
    expect(changed.code, changed.stderr).toBe(0)
    expect(JSON.parse(changed.stdout).allowed_hosts).toEqual(['files.pythonhosted.org'])
    const cleared = await cli(['instances', 'update', inst.id, '--allow-hosts', '', '--json'])
    expect(JSON.parse(cleared.stdout).allowed_hosts).toEqual([])
    expect((await s.api('DELETE', `/api/instances/${inst.id}`, { key })).status).toBeLessThan(300)
  }, 120_000)
})
