/// <reference lib="dom" />
import fs from 'node:fs'
import path from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { launchBrowser, newContext, step } from './helpers/browser.js'
import { GATEWAY_PLANS } from './helpers/plans.js'
import { buildOnce, REPO } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

const PASSWORD = 'operations-password'
const EMAIL = 'admin@clawport.local'
/** Screenshots people look at (gitignored, never committed). */
const ARTIFACTS = path.join(REPO, 'test-artifacts')

async function artifact(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true })
}

/** Seconds in an elapsed time as the page writes it ("7 s", "1 min 05 s"). */
function seconds(text: string): number {
  const m = /^(?:(\d+) min )?(\d+) s$/.exec(text.trim())
  if (!m) throw new Error(`not an elapsed time: ${JSON.stringify(text)}`)
  return Number(m[1] ?? 0) * 60 + Number(m[2])
}

/**
 * Long operations and work in progress on the instance page: a boot and a reboot show their
 * phase, how long they have taken and the instance's resources; a stopped chat turn stays marked
 * after a reload; unsaved edits survive switching tabs. One real server, one real instance with
 * its gateway, the scripted model and Chromium.
 */
describe('the instance page shows long operations and keeps work', () => {
  let server: TestServer
  let model: ModelServer
  let browser: Browser
  let page: Page
  let instanceId = ''

  beforeAll(async () => {
    buildOnce()
    if (!fs.existsSync(`${REPO}/web/dist/index.html`))
      throw new Error('build the dashboard first: npm run build:web')
    model = await startModelServer()
    server = await startServer({
      CLAWPORT_PLANS: GATEWAY_PLANS,
      CLAWPORT_TMP_SIZE_MB: '128',
      CLAWPORT_GATEWAY: 'on',
      CLAWPORT_LLM_BASE_URL: model.baseUrl,
      CLAWPORT_LLM_MODEL: 'test-model',
    })
    const setup = await server.api('POST', '/api/auth/setup', {
      key: null,
      body: { api_key: server.adminKey, password: PASSWORD },
    })
    if (setup.status !== 200) throw new Error(`setup failed: ${JSON.stringify(setup.body)}`)
    browser = await launchBrowser()
    page = await (await newContext(browser, server.url)).newPage()
    await page.setViewportSize({ width: 1440, height: 900 })
    const login = await page.request.post('/api/auth/login', { data: { email: EMAIL, password: PASSWORD } })
    if (!login.ok()) throw new Error(`sign-in failed: ${await login.text()}`)
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.destroy()
    await model?.close()
  })

  const progress = () => page.getByRole('region', { name: 'Progress' })
  const limits = () => page.getByRole('list', { name: 'Allotted resources' })

  /** The phases the progress panel goes through until it goes away, in order, each once. */
  async function watchPhases(timeoutMs: number): Promise<string[]> {
    const seen: string[] = []
    return waitFor(
      () => `the progress panel to go away; phases seen: ${seen.join(', ')}`,
      async () => {
        const phase = await page
          .locator('[aria-label=Progress] [aria-current=step]')
          .getAttribute('data-step', { timeout: 500 })
          .catch(() => null)
        if (phase && seen.at(-1) !== phase) seen.push(phase)
        return !(await progress().count()) && seen
      },
      { timeoutMs, intervalMs: 250 },
    )
  }

  it('shows the boot phase, the time it has taken and the resources, then the ready page with them', async () => {
    const created = await server.api('POST', '/api/instances', { body: { name: 'ops box', network: 'off' } })
    expect(created.status).toBe(201)
    instanceId = created.body.id
    expect(created.body.resources).toMatchObject({ memory_mb: 2048, cpus: 2, disk_mb: 1024, pids_max: 1024 })
    await step(page, 'booting', async () => {
      await page.goto(`/instances/${instanceId}/chat`)
      await progress().waitFor({ timeout: 20_000 })
      const elapsed = progress().getByTestId('elapsed')
      const first = seconds((await elapsed.textContent()) ?? '')
      // The phase is said in words, and the boot log is one click away.
      expect(await progress().getByRole('heading').textContent()).toMatch(/^Starting/)
      expect(await progress().getByRole('link', { name: 'Boot log' }).getAttribute('href')).toBe(
        `/instances/${instanceId}/logs?source=boot`,
      )
      const text = await limits().innerText()
      expect(text).toMatch(/Memory\s+2(\.0)? GiB/)
      expect(text).toMatch(/CPU\s+2 cores/)
      expect(text).toMatch(/Disk\s+1(\.0)? GiB/)
      expect(text).toMatch(/Processes\s+1,?024/)
      await page.waitForFunction(
        (before) => {
          const t = document.querySelector('[aria-label=Progress] [data-testid=elapsed]')?.textContent ?? ''
          const m = /(\d+) s$/.exec(t)
          return m !== null && Number(m[1]) >= before + 2
        },
        first,
        { timeout: 10_000 },
      )
      await artifact(page, 'instance-booting')
      const phases = await watchPhases(200_000)
      // The gateway's boot is the long part: it is always seen, after the sandbox's parts.
      expect(phases).toContain('gateway')
      const order = ['sandbox', 'clawlet', 'gateway', 'finishing']
      expect([...phases].sort((a, b) => order.indexOf(a) - order.indexOf(b))).toEqual(phases)
    })
    await step(page, 'ready', async () => {
      await page.locator('.badge[data-status=ready]').first().waitFor({ timeout: 30_000 })
      expect(await progress().count()).toBe(0)
      expect(await limits().innerText()).toMatch(/Memory\s+2(\.0)? GiB/)
      // The operations views: live metrics, the lifecycle events and the logs tab.
      await page.getByRole('region', { name: 'Resources' }).getByText('Memory').waitFor({ timeout: 15_000 })
      await page
        .getByRole('region', { name: 'Events' })
        .getByText('ready')
        .first()
        .waitFor({ timeout: 15_000 })
      expect(await page.getByRole('tab', { name: 'Logs' }).count()).toBe(1)
      await page.getByLabel('Message', { exact: true }).waitFor()
      await artifact(page, 'instance-ready')
      // What tells a reboot's old sandbox from its new one.
      const status = await server.api('GET', `/api/instances/${instanceId}/status`)
      expect(Date.parse(status.body.sandbox.started_at)).toBeGreaterThan(Date.parse(created.body.created_at))
    })
  }, 300_000)

  it('shows a reboot the same way: its phase and its time, from the reboot on', async () => {
    await step(page, 'rebooting', async () => {
      await page.getByRole('button', { name: 'Reboot' }).click()
      await page.getByRole('dialog').getByRole('button', { name: 'Reboot' }).click()
      await progress().waitFor({ timeout: 10_000 })
      expect(await progress().getByRole('heading').textContent()).toMatch(/^Rebooting/)
      // The time counts from the reboot, not from the instance's first boot.
      expect(seconds((await progress().getByTestId('elapsed').textContent()) ?? '')).toBeLessThan(10)
      expect(await limits().innerText()).toMatch(/Memory\s+2(\.0)? GiB/)
      await artifact(page, 'instance-rebooting')
      const phases = await watchPhases(200_000)
      expect(phases).toContain('gateway')
      await page.locator('.badge[data-status=ready]').first().waitFor({ timeout: 30_000 })
    })
  }, 240_000)

  it('keeps unsaved edits across tabs, and warns on leaving the page while they are unsaved', async () => {
    await server.waitStatus(instanceId, 'ready', server.adminKey, 200_000)
    const write = await server.api('POST', `/api/instances/${instanceId}/files/write`, {
      body: { path: '/workspace/plan.md', content: 'draft\n' },
    })
    expect(write.status).toBe(200)
    const leaveWarns = () =>
      page.evaluate(() => {
        const e = new Event('beforeunload', { cancelable: true })
        window.dispatchEvent(e)
        return e.defaultPrevented
      })
    const text = page.getByLabel('Contents of /workspace/plan.md')
    await step(page, 'edits-across-tabs', async () => {
      await page.goto(`/instances/${instanceId}/files`)
      await page.locator('tr[data-file="plan.md"]').getByRole('button', { name: 'plan.md' }).click()
      await text.waitFor()
      await text.press('Control+End')
      await text.pressSequentially('kept across tabs')
      await page.getByRole('tab', { name: 'Chat' }).click()
      await page.getByLabel('Message', { exact: true }).waitFor()
      expect(await text.isVisible()).toBe(false)
      // Out of sight, the edits are still unsaved: leaving the page still asks.
      expect(await leaveWarns()).toBe(true)
      // So does going to another page of the dashboard; staying keeps them.
      const asked = new Promise<string>((resolve) =>
        page.once('dialog', (d) => {
          resolve(d.message())
          void d.dismiss()
        }),
      )
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Instances' }).click()
      expect(await asked).toContain('unsaved changes')
      expect(new URL(page.url()).pathname).toBe(`/instances/${instanceId}/chat`)
      await page.getByRole('tab', { name: 'Files' }).click()
      await text.waitFor()
      expect(await text.inputValue()).toBe('draft\nkept across tabs')
      await page.getByRole('button', { name: 'Save' }).click()
      await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor()
      expect(await leaveWarns()).toBe(false)
    })
    const read = await server.api('GET', `/api/instances/${instanceId}/files/read?path=/workspace/plan.md`)
    expect(read.body.content).toBe('draft\nkept across tabs')
  }, 240_000)

  it('marks a stopped turn "Stopped" at once and after a reload, and the chat is not left running', async () => {
    await server.waitStatus(instanceId, 'ready', server.adminKey, 200_000)
    const stopped = page.locator('.msg[data-role=assistant][data-status=aborted] .stopped-marker')
    await step(page, 'chat-stopped', async () => {
      await page.goto(`/instances/${instanceId}/chat`)
      const input = page.getByLabel('Message', { exact: true })
      await input.fill('please be slow')
      await input.press('Enter')
      // The scripted model says nothing for a minute: the turn is stopped before any text.
      await page.locator('.msg[data-role=user]', { hasText: 'please be slow' }).waitFor({ timeout: 30_000 })
      await page.getByRole('button', { name: 'Stop' }).click()
      await page.getByRole('button', { name: 'Send' }).waitFor({ timeout: 30_000 })
      await stopped.waitFor({ timeout: 30_000 })
      expect(await stopped.textContent()).toBe('Stopped')
      await artifact(page, 'chat-stopped')
    })
    await step(page, 'chat-stopped-reload', async () => {
      await page.reload()
      await page.locator('.msg[data-role=user]', { hasText: 'please be slow' }).waitFor({ timeout: 30_000 })
      await stopped.waitFor({ timeout: 15_000 })
      expect(await stopped.textContent()).toBe('Stopped')
      // The marker sits right after the message whose turn was stopped.
      const roles = await page
        .locator('[data-testid=messages] .msg')
        .evaluateAll((els) => els.map((el) => el.getAttribute('data-status') ?? el.getAttribute('data-role')))
      expect(roles.slice(-2)).toEqual(['user', 'aborted'])
      expect(await page.getByRole('button', { name: 'Stop' }).count()).toBe(0)
      await page.getByRole('button', { name: 'Send' }).waitFor()
    })
  }, 180_000)
})
