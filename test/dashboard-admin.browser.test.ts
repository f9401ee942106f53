/// <reference lib="dom" />
import fs from 'node:fs'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, newContext, step } from './helpers/browser.js'
import { buildOnce, REPO } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'

const EMAIL = 'admin@clawport.local'
const PASSWORD = 'admin-pages-password'
const USER_EMAIL = 'a-rather-long-address-for-the-table@example.com'
/** Screenshots people look at (gitignored, never committed). */
const ARTIFACTS = path.join(REPO, 'test-artifacts')

/** Elements that reach past the viewport outside a scroller, widest first: what to look at. */
async function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth
    return Array.from(document.querySelectorAll('body *'))
      .map((el) => ({ el, right: el.getBoundingClientRect().right }))
      .filter(({ el, right }) => right > width + 0.5 && !el.closest('.table-wrap, .tabs'))
      .sort((a, b) => b.right - a.right)
      .slice(0, 5)
      .map(({ el, right }) => `${el.tagName.toLowerCase()}.${el.className} right=${Math.round(right)}`)
  })
}

/**
 * The admin pages: changes say they were saved, labels say what they mean, and the pages fit a
 * phone. A real server and Chromium; no instances.
 */
describe('the admin pages', () => {
  let server: TestServer
  let browser: Browser
  let context: BrowserContext
  let page: Page

  beforeAll(async () => {
    buildOnce()
    if (!fs.existsSync(`${REPO}/web/dist/index.html`))
      throw new Error('build the dashboard first: npm run build:web')
    server = await startServer()
    const setup = await server.api('POST', '/api/auth/setup', {
      key: null,
      body: { api_key: server.adminKey, password: PASSWORD },
    })
    if (setup.status !== 200) throw new Error(`setup failed: ${JSON.stringify(setup.body)}`)
    const user = await server.api('POST', '/api/admin/users', { body: { email: USER_EMAIL, plan: 'free' } })
    if (user.status !== 201) throw new Error(`user failed: ${JSON.stringify(user.body)}`)
    await server.api('POST', '/api/admin/invites', { body: { plan: 'pro', uses: 3 } })
    browser = await launchBrowser()
    context = await newContext(browser, server.url)
    page = await context.newPage()
    await page.setViewportSize({ width: 1440, height: 900 })
    const login = await page.request.post('/api/auth/login', { data: { email: EMAIL, password: PASSWORD } })
    if (!login.ok()) throw new Error(`sign-in failed: ${await login.text()}`)
  }, 120_000)

  afterAll(async () => {
    await context?.close().catch(() => {})
    await browser?.close()
    await server?.destroy()
  })

  it('says when a plan, a subscription or a password was changed, and what "active" means', async () => {
    const users = page.getByRole('table', { name: 'Users' })
    const note = page.getByRole('status').filter({ hasText: USER_EMAIL })
    await step(page, 'admin-saved', async () => {
      await page.goto('/admin/users')
      await users.waitFor()
      expect(await users.getByRole('columnheader', { name: 'Subscription active' }).count()).toBe(1)
      await page.getByLabel(`Plan of ${USER_EMAIL}`).selectOption('pro')
      await note.filter({ hasText: `${USER_EMAIL} is on the pro plan now.` }).waitFor()
      await page.getByLabel(`Subscription of ${USER_EMAIL} active`).click()
      await note.filter({ hasText: `The subscription of ${USER_EMAIL} is inactive now.` }).waitFor()
      await users
        .getByRole('row')
        .filter({ hasText: USER_EMAIL })
        .getByRole('button', { name: 'Set password' })
        .click()
      await page.getByRole('dialog').getByLabel('New password (at least 8 characters)').fill('a-new-password')
      await page.getByRole('dialog').getByRole('button', { name: 'Set password' }).click()
      await note.filter({ hasText: `The password of ${USER_EMAIL} is set.` }).waitFor()
      const listed = await server.api('GET', '/api/admin/users')
      const row = listed.body.find((u: { email: string }) => u.email === USER_EMAIL)
      expect(row).toMatchObject({ plan: 'pro', subscription_active: false, has_password: true })
    })
  })

  it('fits a phone: no horizontal scroll on any admin page at 390 px', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    try {
      for (const section of ['users', 'plans', 'invites']) {
        await step(page, `admin-mobile-${section}`, async () => {
          await page.goto(`/admin/${section}`)
          await page.getByRole('table').first().waitFor()
          const width = await page.evaluate(() => document.documentElement.scrollWidth)
          expect(width, `${section}: ${(await overflowing(page)).join(', ')}`).toBe(390)
          fs.mkdirSync(ARTIFACTS, { recursive: true })
          await page.screenshot({ path: path.join(ARTIFACTS, `admin-${section}-390.png`), fullPage: true })
        })
      }
    } finally {
      await page.setViewportSize({ width: 1440, height: 900 })
    }
  })
})
