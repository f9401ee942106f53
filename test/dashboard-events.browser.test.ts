/// <reference lib="dom" />
import fs from 'node:fs'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { childrenOf } from '../src/drivers/local/launch.js'
import { launchBrowser, newContext, step } from './helpers/browser.js'
import { TEST_ENV } from './helpers/plans.js'
import { REPO } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

const PASSWORD = 'events-password'

/** The instance page's Events section: the status history, a crash with its reason and what to do. */
describe('the dashboard shows an instance its events', () => {
  let server: TestServer
  let browser: Browser

  beforeAll(async () => {
    if (!fs.existsSync(`${REPO}/web/dist/index.html`))
      throw new Error('build the dashboard first: npm run build:web')
    server = await startServer(TEST_ENV)
    // The administrator's password ends the first-run screen, so the sign-in form shows.
    const setup = await server.api('POST', '/api/auth/setup', {
      key: null,
      body: { api_key: server.adminKey, password: PASSWORD },
    })
    if (setup.status !== 200) throw new Error(`setup failed: ${JSON.stringify(setup.body)}`)
    browser = await launchBrowser()
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await server?.destroy()
  })

  it('lists a crash, with its reason and what to do, on the instance page', async () => {
    await server.admin(
      'user',
      'create',
      '--email',
      'ev@clawport.test',
      '--password',
      PASSWORD,
      '--plan',
      'team',
    )
    const key =
      (await server.admin('key', 'create', '--email', 'ev@clawport.test')).trim().split('\n').at(-1) ?? ''
    const { id } = await server.readyInstance(key)
    const status = (await server.api('GET', `/api/instances/${id}/status`, { key })).body
    const [init] = await childrenOf(status.sandbox.pid)
    const [clawlet] = await childrenOf(init as number)
    process.kill(clawlet as number, 'SIGKILL')
    await waitFor(
      'ready and crashed events',
      async () => {
        const events = (await server.api('GET', `/api/instances/${id}/events`, { key })).body as Array<{
          type: string
        }>
        return events.some((e) => e.type === 'ready') && events.some((e) => e.type === 'crashed')
      },
      { timeoutMs: 30_000 },
    )
    const page = await (await newContext(browser, server.url)).newPage()
    await step(page, 'events-sign-in', async () => {
      await page.goto('/')
      await page.getByLabel('Email').fill('ev@clawport.test')
      await page.getByLabel('Password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByRole('heading', { name: 'Instances', exact: true }).waitFor()
    })
    await step(page, 'events-section', async () => {
      await page.goto(`/instances/${id}/files`)
      const section = page.getByRole('region', { name: 'Events' })
      const crash = section.locator('tr', { has: page.getByRole('cell', { name: 'crashed', exact: true }) })
      await crash.waitFor()
      expect(await crash.innerText()).toMatch(/killed by SIGKILL/)
      expect(await crash.innerText()).toContain('Its sandbox died; it is restarted unless it keeps crashing.')
      await section.getByRole('cell', { name: 'created', exact: true }).waitFor()
      await section.getByRole('cell', { name: 'restarted', exact: true }).waitFor()
    })
  }, 120_000)

  it('shows a failed instance plainly: no spinner, the reason, and what to do', async () => {
    const key =
      (await server.admin('key', 'create', '--email', 'ev@clawport.test')).trim().split('\n').at(-1) ?? ''
    const { id } = await server.readyInstance(key)
    // A clawlet that keeps dying uses up the restart budget: the instance is left in error.
    const failed = await waitFor(
      'the instance to give up restarting',
      async () => {
        const inst = (await server.api('GET', `/api/instances/${id}`, { key })).body
        if (inst.status === 'error') return inst
        const status = (await server.api('GET', `/api/instances/${id}/status`, { key })).body
        if (inst.status === 'ready' && status.sandbox?.pid) {
          const [init] = await childrenOf(status.sandbox.pid)
          const [clawlet] = init ? await childrenOf(init) : []
          if (clawlet) process.kill(clawlet, 'SIGKILL')
        }
        return undefined
      },
      { timeoutMs: 90_000 },
    )
    expect(failed.error).toMatch(/gave up after \d+ restarts/)
    const page = await (await newContext(browser, server.url)).newPage()
    await step(page, 'failed-instance', async () => {
      await page.goto('/')
      await page.getByLabel('Email').fill('ev@clawport.test')
      await page.getByLabel('Password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByRole('heading', { name: 'Instances', exact: true }).waitFor()
      await page.goto(`/instances/${id}/chat`)
      const note = page.getByRole('alert').filter({ hasText: 'This instance failed.' })
      await note.waitFor()
      expect(await note.innerText()).toContain(failed.error)
      expect(await note.getByRole('link', { name: 'boot log' }).getAttribute('href')).toBe(
        `/instances/${id}/logs`,
      )
      expect(await page.getByRole('tabpanel').locator('.spinner').count()).toBe(0)
      expect(await page.getByRole('tabpanel').innerText()).not.toContain('The instance is error')
      await page.getByRole('button', { name: 'Start', exact: true }).waitFor()
    })
  }, 150_000)
})
