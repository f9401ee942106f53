import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'
import { asUser } from '../src/core/scope.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'

// Through the API only: what the sandbox of an allowlist instance reaches is network-allowlist.test.ts's.
describe("an instance's allowlist", () => {
  let p: InProcess
  let allowKey: string
  let netKey: string
  let proKey: string

  const settled = (key: string, id: string, want: string) => p.waitStatus(key, id, want)

  beforeAll(async () => {
    // No name is ever looked up here; the resolver's upstream is a loopback address regardless.
    p = await inProcess({ ...TEST_ENV, CLAWPORT_POOL_SIZE: '0', CLAWPORT_NETWORK_DNS: '127.0.0.53' })
    allowKey = await p.user('allow@example.com', 'allow')
    netKey = await p.user('net@example.com', 'net')
    proKey = await p.user('pro@example.com', 'pro')
  })

  afterAll(async () => {
    if (!p) return
    for (const row of await p.services.store.instances.listAll())
      await p.services.instances.remove(asUser(row.user_id), row.id).catch(() => {})
    await p.close()
  })

  it("gives an allowlist plan's instance the plan's names, or its own, checked and lowercased", async () => {
    const byPlan = await p.inject('POST', '/api/instances', allowKey, {})
    expect(byPlan.status).toBe(201)
    expect(byPlan.body).toMatchObject({ network: 'allowlist', allowed_hosts: ['pkg.test'] })
    const own = await p.inject('POST', '/api/instances', allowKey, {
      allowed_hosts: ['PyPI.org', '*.Example.com', 'pypi.org'],
    })
    expect(own.status).toBe(201)
    expect(own.body.allowed_hosts).toEqual(['pypi.org', '*.example.com'])
    const shown = await settled(allowKey, own.body.id, 'ready')
    expect(shown.allowed_hosts).toEqual(['pypi.org', '*.example.com'])
    for (const id of [byPlan.body.id, own.body.id])
      expect((await p.inject('DELETE', `/api/instances/${id}`, allowKey)).status).toBeLessThan(300)
  })

  it('refuses what is not a host name with 422 invalid_allowed_host, and creates nothing', async () => {
    const bad = [
      'http://example.com',
      'example.com:443',
      '10.0.0.1',
      'localhost',
      'a..example.com',
      '*.*.example.com',
      'ex*ample.com',
      '-bad.example.com',
      'exa mple.com',
      '',
      `${'a'.repeat(64)}.com`,
    ]
    for (const host of bad) {
      const res = await p.inject('POST', '/api/instances', allowKey, { allowed_hosts: [host] })
      expect(res.status, host).toBe(422)
      expect(res.body, host).toMatchObject({ code: 'invalid_allowed_host', status: 422, details: { host } })
    }
    const many = Array.from({ length: 65 }, (_, i) => `h${i}.example.com`)
    const tooMany = await p.inject('POST', '/api/instances', allowKey, { allowed_hosts: many })
    expect(tooMany.body.code).toBe('invalid_allowed_host')
    expect((await p.inject('GET', '/api/instances', allowKey)).body).toEqual([])
  })

  it('orders networks public > allowlist > off: a plan allows its own and what is less', async () => {
    const beyond = await p.inject('POST', '/api/instances', allowKey, { network: 'public' })
    expect(beyond.body).toMatchObject({ status: 422, code: 'network_not_allowed' })
    const none = await p.inject('POST', '/api/instances', proKey, { network: 'allowlist' })
    expect(none.body).toMatchObject({ status: 422, code: 'network_not_allowed' })
    const less = await p.inject('POST', '/api/instances', netKey, {
      network: 'allowlist',
      allowed_hosts: ['registry.npmjs.org'],
    })
    expect(less.status).toBe(201)
    expect(less.body).toMatchObject({ network: 'allowlist', allowed_hosts: ['registry.npmjs.org'] })
    expect((await p.inject('DELETE', `/api/instances/${less.body.id}`, netKey)).status).toBeLessThan(300)
  })

  it('changes the names of a stopped instance only, and keeps them across mode switches', async () => {
    const { body: inst } = await p.inject('POST', '/api/instances', allowKey, { network: 'off' })
    await settled(allowKey, inst.id, 'ready')
    const running = await p.inject('PATCH', `/api/instances/${inst.id}`, allowKey, {
      allowed_hosts: ['a.test'],
    })
    expect(running.body).toMatchObject({ status: 409, code: 'invalid_state' })
    await p.inject('POST', `/api/instances/${inst.id}/shutdown`, allowKey)
    await settled(allowKey, inst.id, 'stopped')
    // Switched to allowlist with no names of its own: the plan's.
    const on = await p.inject('PATCH', `/api/instances/${inst.id}`, allowKey, { network: 'allowlist' })
    expect(on.body).toMatchObject({ network: 'allowlist', allowed_hosts: ['pkg.test'] })
    const set = await p.inject('PATCH', `/api/instances/${inst.id}`, allowKey, {
      allowed_hosts: ['files.pythonhosted.org', 'pypi.org'],
    })
    expect(set.body.allowed_hosts).toEqual(['files.pythonhosted.org', 'pypi.org'])
    const bad = await p.inject('PATCH', `/api/instances/${inst.id}`, allowKey, { allowed_hosts: ['1.2.3.4'] })
    expect(bad.body).toMatchObject({ status: 422, code: 'invalid_allowed_host' })
    const off = await p.inject('PATCH', `/api/instances/${inst.id}`, allowKey, { network: 'off' })
    expect(off.body).toMatchObject({ network: 'off', allowed_hosts: ['files.pythonhosted.org', 'pypi.org'] })
    const up = await p.inject('PATCH', `/api/instances/${inst.id}`, allowKey, { network: 'public' })
    expect(up.body.code).toBe('network_not_allowed')
    expect((await p.inject('DELETE', `/api/instances/${inst.id}`, allowKey)).status).toBeLessThan(300)
  })

  it("checks a plan's default names at start", () => {
    const plans = (hosts: string[]) =>
      JSON.stringify([{ name: 'free', instance_limit: 0, network: 'allowlist', allowed_hosts: hosts }])
    expect(loadConfig({ CLAWPORT_PLANS: plans(['Example.com']) }).plans[0]?.allowed_hosts).toEqual([
      'example.com',
    ])
    expect(() => loadConfig({ CLAWPORT_PLANS: plans(['http://x']) })).toThrow(ConfigError)
  })
})
