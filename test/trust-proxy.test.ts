import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'
import { waitFor } from './helpers/wait.js'

/** The audit log's address of a request that came through a reverse proxy, or claimed to. */
async function auditedAddress(t: InProcess, key: string, headers: Record<string, string>): Promise<unknown> {
  const res = await t.inject('POST', '/api/keys', key, { name: 'through a proxy' }, headers)
  expect(res.status).toBe(201)
  // The audit entry is written after the answer.
  const last = await waitFor(
    'the audit entry of the key',
    async () => {
      const entry = (await t.inject('GET', '/api/audit?limit=1', key)).body[0]
      return entry?.action === 'keys.create' && entry
    },
    { timeoutMs: 1000, intervalMs: 20 },
  )
  return last.ip
}

describe('behind a reverse proxy', () => {
  let trusted: InProcess
  let untrusted: InProcess
  let trustedKey: string
  let untrustedKey: string

  beforeAll(async () => {
    trusted = await inProcess({ ...TEST_ENV, CLAWPORT_TRUST_PROXY: '127.0.0.0/8, ::1' })
    untrusted = await inProcess(TEST_ENV)
    trustedKey = await trusted.user('proxied@example.com', 'pro')
    untrustedKey = await untrusted.user('direct@example.com', 'pro')
  })
  afterAll(async () => {
    await trusted?.close()
    await untrusted?.close()
  })

  it("takes the client's address from a configured proxy's X-Forwarded-For", async () => {
    expect(await auditedAddress(trusted, trustedKey, { 'x-forwarded-for': '198.51.100.7' })).toBe(
      '198.51.100.7',
    )
  })

  it('ignores X-Forwarded-For when no proxy is configured: a client cannot forge its address', async () => {
    expect(await auditedAddress(untrusted, untrustedKey, { 'x-forwarded-for': '198.51.100.7' })).toBe(
      '127.0.0.1',
    )
  })

  it('refuses a malformed CLAWPORT_TRUST_PROXY at start', async () => {
    await expect(inProcess({ ...TEST_ENV, CLAWPORT_TRUST_PROXY: 'proxy.example.com' })).rejects.toThrow(
      /CLAWPORT_TRUST_PROXY: must be a comma-separated list/,
    )
  })
})
