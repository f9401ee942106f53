/// <reference lib="dom" />
import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, newContext, step } from './helpers/browser.js'
import { freshDatabase, havePostgres, PG_SKIP_REASON } from './helpers/postgres.js'
import { startRunner } from './helpers/runner.js'
import { buildOnce } from './helpers/sandbox.js'
import { REPO, TEST_SECRET_KEY, TestServer, tempDataDir } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

/**
 * The admin Runners page against a real control plane on PostgreSQL and a real `clawport runner`
 * on this host holding one real instance (no network, no gateway): health, drain, a refused
 * removal, undrain, and a phone-sized screen.
 */
const SKIP = !havePostgres()
  ? PG_SKIP_REASON
  : process.getuid?.() !== 0
    ? 'a runner starts sandboxes, which needs root'
    : ''
if (SKIP) console.log(`dashboard runners: skipped (${SKIP})`)

const EMAIL = 'admin@clawport.local'
const PASSWORD = 'runners-page-password'
const TOKEN = 'runners-page-token-0123456789abcdef01234'
const NAME = 'rack-1'
/** Screenshots people look at (gitignored, never committed). */
const ARTIFACTS = path.join(REPO, 'test-artifacts')

interface RunnerSeen {
  name: string
  state: string
  health: string
  used: { instances: number }
}

async function freePort(): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as net.AddressInfo).port
  await new Promise((resolve) => srv.close(resolve))
  return port
}

describe.skipIf(Boolean(SKIP))('the admin Runners page', () => {
  let dropDb: () => Promise<void> = async () => {}
  let server: TestServer
  let runner: ChildProcess | undefined
  let runnerDir = ''
  let instanceId = ''
  let browser: Browser
  let context: BrowserContext
  let page: Page
  /** Console errors and uncaught exceptions the page produced. */
  const problems: string[] = []

  const seen = async (): Promise<RunnerSeen | undefined> => {
    const res = await server.api('GET', '/api/admin/runners')
    expect(res.status).toBe(200)
    return (res.body.runners as RunnerSeen[]).find((r) => r.name === NAME)
  }

  beforeAll(async () => {
    buildOnce()
    if (!fs.existsSync(`${REPO}/web/dist/index.html`))
      throw new Error('build the dashboard first: npm run build:web')
    const db = await freshDatabase('runners_page')
    dropDb = db.drop
    server = await new TestServer(tempDataDir(), {
      CLAWPORT_DATABASE_URL: db.url,
      CLAWPORT_SECRET_KEY: TEST_SECRET_KEY,
      CLAWPORT_RUNNER_TOKEN: TOKEN,
      CLAWPORT_LOCAL_INSTANCES: 'off',
      CLAWPORT_GATEWAY: 'off',
      CLAWPORT_DESKTOP: 'off',
    }).start()
    const setup = await server.api('POST', '/api/auth/setup', {
      key: null,
      body: { api_key: server.adminKey, password: PASSWORD },
    })
    if (setup.status !== 200) throw new Error(`setup failed: ${JSON.stringify(setup.body)}`)

    runnerDir = tempDataDir('clawport-runner-page-')
    const port = await freePort()
    // Its own process group, so the group goes at the end whatever it started.
    const started = await startRunner({
      server: server.url,
      name: NAME,
      listen: `127.0.0.1:${port}`,
      dataDir: runnerDir,
      memoryMb: 8192,
      env: { CLAWPORT_DATABASE_URL: db.url, CLAWPORT_RUNNER_TOKEN: TOKEN, CLAWPORT_UID_BASE: '340000' },
    })
    runner = started.proc

    const created = await server.api('POST', '/api/instances', { body: { network: 'off' } })
    if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`)
    instanceId = created.body.id
    await server.waitStatus(instanceId, 'ready', server.adminKey, 90_000)
    // It runs on the runner, in the runner's folder, not on the server.
    expect(fs.existsSync(path.join(runnerDir, 'instances', instanceId))).toBe(true)

    browser = await launchBrowser()
    context = await newContext(browser, server.url)
    page = await context.newPage()
    page.on('console', (m) => {
      // The refused removal is a 409 Chromium logs as a failed load; that one is expected.
      if (m.type() === 'error' && !/status of 409/.test(m.text())) problems.push(m.text())
    })
    page.on('pageerror', (e) => problems.push(e.message))
    const login = await page.request.post('/api/auth/login', { data: { email: EMAIL, password: PASSWORD } })
    if (!login.ok()) throw new Error(`sign-in failed: ${await login.text()}`)
  }, 240_000)

  afterAll(async () => {
    await context?.close().catch(() => {})
    await browser?.close().catch(() => {})
    if (instanceId && server) {
      await server.api('DELETE', `/api/instances/${instanceId}`).catch(() => {})
      // The runner does the deleting: wait for it before it stops.
      await waitFor(
        `instance ${instanceId} to be deleted`,
        async () => (await server.api('GET', `/api/instances/${instanceId}`)).status === 404,
        { timeoutMs: 60_000, intervalMs: 250 },
      ).catch((err) => console.error('the instance was not deleted', err))
    }
    if (runner?.pid && runner.exitCode === null && !runner.signalCode) {
      const exited = new Promise((resolve) => runner?.once('exit', resolve))
      process.kill(-runner.pid, 'SIGTERM')
      const forced = setTimeout(() => runner?.pid && process.kill(-runner.pid, 'SIGKILL'), 15_000)
      await exited
      clearTimeout(forced)
    }
    // Whatever is left on the runner's side goes with its folder.
    if (runnerDir) await new TestServer(runnerDir).destroy()
    await server?.destroy()
    await dropDb().catch((err) => console.error('dropping the test database failed', err))
  }, 180_000)

  it('is reached from the admin navigation and shows rack-1 healthy, active and holding the instance', async () => {
    await step(page, 'runners-list', async () => {
      await page.setViewportSize({ width: 1440, height: 900 })
      await page.goto('/admin')
      await page
        .getByRole('navigation', { name: 'Admin sections' })
        .getByRole('link', { name: 'Runners' })
        .click()
      await page.waitForURL('**/admin/runners')
      const row = page.getByRole('table', { name: 'Runners' }).getByRole('row').filter({ hasText: NAME })
      await row.waitFor()
      await expect.poll(() => row.textContent()).toMatch(/Healthy/)
      const text = (await row.textContent()) ?? ''
      expect(text).toMatch(/last heartbeat \d+ s ago/)
      expect(text).toContain('Active')
      expect(text).toContain('1 / 20 instances')
      expect(text).toContain('/ 8,192 MB')
      expect(text).toMatch(/https:\/\/127\.0\.0\.1:\d+/)
      expect(await row.getByRole('meter').getAttribute('aria-label')).toMatch(
        new RegExp(`^Memory of ${NAME}: [\\d,]+ MB of 8,192 MB reserved$`),
      )
      // This server takes none itself and holds none.
      const local = page.getByRole('region', { name: 'This server' })
      expect(await local.textContent()).toContain('Takes no new instances itself')
      expect(await local.textContent()).toContain('Holds 0 instances')
      fs.mkdirSync(ARTIFACTS, { recursive: true })
      await page.screenshot({ path: path.join(ARTIFACTS, 'admin-runners.png'), fullPage: true })
    })
  })

  it('reaches the actions from the keyboard with a visible focus ring', async () => {
    await step(page, 'runners-focus', async () => {
      await page.getByRole('link', { name: 'Runners' }).focus()
      const drain = page.getByRole('button', { name: `Drain ${NAME}` })
      for (let i = 0; i < 20 && !(await drain.evaluate((el) => el === document.activeElement)); i++)
        await page.keyboard.press('Tab')
      expect(await drain.evaluate((el) => el === document.activeElement)).toBe(true)
      const outline = await drain.evaluate((el) => getComputedStyle(el).outlineStyle)
      expect(outline).not.toBe('none')
    })
  })

  it('drains rack-1, refuses to remove it while it holds the instance, and undrains it', async () => {
    const row = page.getByRole('row').filter({ hasText: NAME })
    await step(page, 'runners-drain', async () => {
      await page.getByRole('button', { name: `Drain ${NAME}` }).click()
      await page
        .getByRole('status')
        .filter({ hasText: `${NAME} is draining` })
        .waitFor()
      await row.getByText('Draining', { exact: true }).waitFor()
      expect((await seen())?.state).toBe('draining')
    })
    await step(page, 'runners-remove-refused', async () => {
      await page.getByRole('button', { name: `Remove ${NAME}` }).click()
      const dialog = page.getByRole('dialog', { name: `Remove ${NAME}?` })
      await dialog.waitFor()
      await dialog.getByRole('button', { name: 'Remove runner' }).click()
      await page
        .getByRole('alert')
        .filter({ hasText: `${NAME} still holds 1 instance. Delete its instances first, then remove it.` })
        .waitFor()
      expect(await seen()).toMatchObject({ state: 'draining', used: { instances: 1 } })
    })
    await step(page, 'runners-undrain', async () => {
      await page.getByRole('button', { name: `Undrain ${NAME}` }).click()
      await page
        .getByRole('status')
        .filter({ hasText: `${NAME} takes new instances again.` })
        .waitFor()
      await row.getByText('Active', { exact: true }).waitFor()
      expect((await seen())?.state).toBe('active')
    })
  })

  it('picks up a change made elsewhere within its 5 s refresh', async () => {
    const row = page.getByRole('row').filter({ hasText: NAME })
    await step(page, 'runners-refresh', async () => {
      expect((await server.api('POST', `/api/admin/runners/${NAME}/drain`)).status).toBe(200)
      await row.getByText('Draining', { exact: true }).waitFor({ timeout: 8_000 })
      expect((await server.api('POST', `/api/admin/runners/${NAME}/undrain`)).status).toBe(200)
    })
  })

  it('fits a phone: no horizontal page scroll at 390 px, the table scrolls in its own box', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    try {
      await step(page, 'runners-mobile', async () => {
        await page.goto('/admin/runners')
        await page
          .getByRole('table', { name: 'Runners' })
          .getByRole('row')
          .filter({ hasText: NAME })
          .waitFor()
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(390)
        fs.mkdirSync(ARTIFACTS, { recursive: true })
        await page.screenshot({ path: path.join(ARTIFACTS, 'admin-runners-390.png'), fullPage: true })
      })
    } finally {
      await page.setViewportSize({ width: 1440, height: 900 })
    }
  })

  it('removes rack-1 once its instance is gone, then explains how to add a runner', async () => {
    expect((await server.api('DELETE', `/api/instances/${instanceId}`)).status).toBeLessThan(300)
    await waitFor(
      `instance ${instanceId} to be deleted`,
      async () => (await server.api('GET', `/api/instances/${instanceId}`)).status === 404,
      { timeoutMs: 60_000, intervalMs: 250 },
    )
    await step(page, 'runners-removed', async () => {
      await page.goto('/admin/runners')
      await page.getByRole('row').filter({ hasText: NAME }).getByText('0 / 20 instances').waitFor()
      await page.getByRole('button', { name: `Remove ${NAME}` }).click()
      await page
        .getByRole('dialog', { name: `Remove ${NAME}?` })
        .getByRole('button', { name: 'Remove runner' })
        .click()
      await page
        .getByRole('status')
        .filter({ hasText: `${NAME} was removed.` })
        .waitFor()
      await page.getByText('No runner is registered').waitFor()
      expect(await page.getByRole('table', { name: 'Runners' }).count()).toBe(0)
      expect(await page.getByText('clawport runner --server URL --token T').count()).toBe(1)
      expect(await page.getByRole('region', { name: 'This server' }).textContent()).toContain(
        'No runner takes new instances right now',
      )
      expect(await seen()).toBeUndefined()
      await page.setViewportSize({ width: 390, height: 844 })
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(390)
      await page.screenshot({ path: path.join(ARTIFACTS, 'admin-runners-empty-390.png'), fullPage: true })
    })
    await page.setViewportSize({ width: 1440, height: 900 })
    expect(problems).toEqual([])
  })
})
