/// <reference lib="dom" />
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, newContext, step } from './helpers/browser.js'
import { TEST_ENV } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'

const PASSWORD = 'dashboard-password'

/** The instance page's Logs tab and Resources section in a real Chromium, on a real instance. */
describe('the dashboard shows an instance logs and resources', () => {
  let server: TestServer
  let browser: Browser
  let page: Page
  let id = ''

  beforeAll(async () => {
    buildOnce()
    server = await startServer(TEST_ENV)
    // The administrator's password ends the first-run screen, so the sign-in form shows.
    const setup = await server.api('POST', '/api/auth/setup', {
      key: null,
      body: { api_key: server.adminKey, password: PASSWORD },
    })
    if (setup.status !== 200) throw new Error(`setup failed: ${JSON.stringify(setup.body)}`)
    const email = 'logs@clawport.test'
    await server.admin('user', 'create', '--email', email, '--password', PASSWORD, '--plan', 'pro')
    const key = (await server.admin('key', 'create', '--email', email)).trim().split('\n').at(-1) ?? ''
    id = (await server.readyInstance(key)).id
    browser = await launchBrowser()
    page = await (await newContext(browser, server.url)).newPage()
    await page.goto('/')
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Instances', exact: true }).waitFor()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.destroy()
  })

  it("lists the clawlet's log lines, and follows them live", async () => {
    await step(page, 'logs-tab', async () => {
      await page.goto(`/instances/${id}/logs`)
      const log = page.getByRole('log', { name: 'Log lines' })
      await expect.poll(() => log.textContent(), { timeout: 15_000 }).toContain('clawlet listening')
      await page.getByLabel('Follow').check()
      await expect.poll(() => log.textContent(), { timeout: 15_000 }).toContain('clawlet listening')
      await page.getByRole('combobox', { name: 'Source' }).selectOption('boot')
      await expect.poll(() => log.textContent(), { timeout: 15_000 }).toContain('clawlet listening')
    })
  })

  it('shows the resources of the running instance', async () => {
    await step(page, 'resources', async () => {
      const section = page.getByRole('region', { name: 'Resources' })
      await expect.poll(() => section.textContent(), { timeout: 15_000 }).toContain('of 512 MiB')
      const text = (await section.textContent()) ?? ''
      expect(text).toContain('CPU')
      expect(text).toContain('no network')
      expect(text).toMatch(/Processes\d+ of 256/)
    })
  })
})
