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

const PASSWORD = 'work-password'
const EMAIL = 'admin@clawport.local'
/** Screenshots people look at (gitignored, never committed). */
const ARTIFACTS = path.join(REPO, 'test-artifacts')

async function artifact(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true })
}

/** The gateway plan with room for the instance list's extra instances (all with network off). */
const PLANS = JSON.stringify(
  (JSON.parse(GATEWAY_PLANS) as Array<Record<string, unknown>>).map((p) =>
    p.name === 'agent' ? { ...p, instance_limit: 5 } : p,
  ),
)

/**
 * Work the dashboard must not lose and dead ends it must not show: unsaved edits, terminal
 * sessions across tabs, chat after Stop, a list of many instances, and errors in plain words.
 * A real server and Chromium, one real instance with its gateway and the scripted model.
 */
describe('the dashboard keeps work and speaks plainly', () => {
  let server: TestServer
  let model: ModelServer
  let browser: Browser
  let page: Page
  let instanceId = ''
  const base = () => `/api/instances/${instanceId}`

  beforeAll(async () => {
    buildOnce()
    if (!fs.existsSync(`${REPO}/web/dist/index.html`))
      throw new Error('build the dashboard first: npm run build:web')
    model = await startModelServer()
    server = await startServer({
      CLAWPORT_PLANS: PLANS,
      CLAWPORT_TMP_SIZE_MB: '128',
      CLAWPORT_GATEWAY: 'on',
      CLAWPORT_SIGNUP: 'open',
      CLAWPORT_LLM_BASE_URL: model.baseUrl,
      CLAWPORT_LLM_MODEL: 'test-model',
    })
    const created = await server.api('POST', '/api/instances', { body: { name: 'work box', network: 'off' } })
    if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`)
    instanceId = created.body.id
    const setup = await server.api('POST', '/api/auth/setup', {
      key: null,
      body: { api_key: server.adminKey, password: PASSWORD },
    })
    if (setup.status !== 200) throw new Error(`setup failed: ${JSON.stringify(setup.body)}`)
    browser = await launchBrowser()
    page = await (await newContext(browser, server.url)).newPage()
    await page.setViewportSize({ width: 1440, height: 900 })
    // Each test opens its own page, so one that fails leaves the next a signed-in browser.
    const login = await page.request.post('/api/auth/login', { data: { email: EMAIL, password: PASSWORD } })
    if (!login.ok()) throw new Error(`sign-in failed: ${await login.text()}`)
    await server.waitStatus(instanceId, 'ready', server.adminKey, 200_000)
  }, 330_000)

  afterAll(async () => {
    await browser?.close()
    await server?.destroy()
    await model?.close()
  })

  it('clears an error when switching between the sign-in forms, and says it in plain words', async () => {
    const context = await newContext(browser, server.url)
    const signIn = await context.newPage()
    const alert = signIn.getByRole('alert')
    await step(signIn, 'auth-errors', async () => {
      await signIn.goto('/')
      await signIn.getByLabel('Email').fill(EMAIL)
      await signIn.getByLabel('Password').fill('wrong-password')
      await signIn.getByRole('button', { name: 'Sign in' }).click()
      await alert.waitFor()
      await signIn.getByRole('button', { name: 'No account? Sign up' }).click()
      await signIn.getByRole('heading', { name: 'Create an account' }).waitFor()
      expect(await alert.count()).toBe(0)
      await signIn.getByRole('button', { name: 'Have an account? Sign in' }).click()
      await signIn.getByLabel('Email').fill(EMAIL)
      await signIn.getByLabel('Password').fill('wrong-password')
      await signIn.getByRole('button', { name: 'Sign in' }).click()
      await alert
        .filter({ hasText: 'The email or password is not right. Check them and try again.' })
        .waitFor()
      await signIn.getByLabel('Email').fill(EMAIL)
      await signIn.getByLabel('Password').fill(PASSWORD)
      await signIn.getByRole('button', { name: 'Sign in' }).click()
      await signIn.getByRole('heading', { name: 'Instances', exact: true }).waitFor()
    })
    await context.close()
  })

  it('says the allowed range when an invite has too many uses', async () => {
    await step(page, 'invite-uses', async () => {
      await page.goto('/admin/invites')
      await page.getByLabel('Uses').fill('200000')
      await page.getByRole('button', { name: 'Create invite' }).click()
      await page
        .getByRole('alert')
        .filter({ hasText: 'Uses must be at most 100,000. Pick a smaller number.' })
        .waitFor()
      expect(await page.locator('body').innerText()).not.toContain('Invalid body')
    })
  })

  it('asks before closing a file with unsaved edits, and warns on leaving the page', async () => {
    const write = await server.api('POST', `${base()}/files/write`, {
      body: { path: '/workspace/notes.txt', content: 'first line\n' },
    })
    expect(write.status).toBe(200)
    const leaveWarns = () =>
      page.evaluate(() => {
        const e = new Event('beforeunload', { cancelable: true })
        window.dispatchEvent(e)
        return e.defaultPrevented
      })
    const text = page.getByLabel('Contents of /workspace/notes.txt')
    const ask = page.getByRole('dialog', { name: 'Discard unsaved changes?' })
    await step(page, 'unsaved-edits', async () => {
      await page.goto(`/instances/${instanceId}/files`)
      await page.locator('tr[data-file="notes.txt"]').getByRole('button', { name: 'notes.txt' }).click()
      await text.waitFor()
      expect(await text.inputValue()).toBe('first line\n')
      expect(await leaveWarns()).toBe(false)
      await text.press('End')
      await text.pressSequentially('an edit not saved')
      expect(await leaveWarns()).toBe(true)
      await page.getByRole('button', { name: 'Close' }).click()
      await ask.waitFor()
      await ask.getByRole('button', { name: 'Keep editing' }).click()
      await ask.waitFor({ state: 'hidden' })
      expect(await text.inputValue()).toContain('an edit not saved')
      await page.getByRole('button', { name: 'Close' }).click()
      await ask.getByRole('button', { name: 'Discard changes' }).click()
      await page.getByRole('table', { name: 'Files in /workspace' }).waitFor()
      expect(await leaveWarns()).toBe(false)
    })
    const read = await server.api('GET', `${base()}/files/read?path=/workspace/notes.txt`)
    expect(read.body.content).toBe('first line\n')
  })

  it('offers the download for a file too large to open, in plain words', async () => {
    const made = await server.exec(instanceId, 'truncate -s 40M /workspace/big.bin')
    expect(made.exit_code).toBe(0)
    await step(page, 'too-large', async () => {
      await page.goto(`/instances/${instanceId}/files`)
      await page.locator('tr[data-file="big.bin"]').getByRole('button', { name: 'big.bin' }).click()
      const alert = page
        .getByRole('alert')
        .filter({ hasText: 'This file is too large to open here. Download it instead.' })
      await alert.waitFor()
      const link = alert.getByRole('link', { name: 'Download the file' })
      expect(await link.getAttribute('href')).toContain('/files/download?path=%2Fworkspace%2Fbig.bin')
      const body = await page.locator('body').innerText()
      expect(body).not.toContain('33554432')
      expect(body).not.toContain('download endpoint')
      await page.getByRole('button', { name: 'Close' }).click()
    })
  })

  it('reattaches the last terminal after switching tabs; several terminals; full screen', async () => {
    const rows = page.locator('.xterm-rows')
    const sessions = async () =>
      (
        (await server.api('GET', `${base()}/terminal/sessions`)).body as Array<{
          id: string
          exited: boolean
        }>
      ).filter((s) => !s.exited)
    const connected = page.getByText('● connected')
    await step(page, 'terminal-first', async () => {
      await page.goto(`/instances/${instanceId}/terminal`)
      await connected.waitFor({ timeout: 30_000 })
      await page.getByTestId('terminal').click()
      await page.keyboard.type('export MARK=kept-$((40+2)); echo first-shell\n')
      await rows.filter({ hasText: 'kept-' }).waitFor({ timeout: 15_000 })
    })
    expect(await sessions()).toHaveLength(1)
    await step(page, 'terminal-back', async () => {
      await page.getByRole('tab', { name: 'Files' }).click()
      await page.getByRole('table', { name: 'Files in /workspace' }).waitFor()
      await page.getByRole('tab', { name: 'Terminal' }).click()
      await connected.waitFor({ timeout: 30_000 })
      // The old output is replayed and the same shell goes on.
      await rows.filter({ hasText: 'first-shell' }).waitFor({ timeout: 15_000 })
      await page.getByTestId('terminal').click()
      await page.keyboard.type('echo "got-$MARK"\n')
      await rows.filter({ hasText: 'got-kept-42' }).waitFor({ timeout: 15_000 })
    })
    const [first] = await sessions()
    expect(await sessions()).toHaveLength(1)
    const picker = page.getByLabel('Session', { exact: true })
    await step(page, 'terminal-new', async () => {
      await page.getByRole('button', { name: 'New terminal' }).click()
      await connected.waitFor({ timeout: 30_000 })
      await page.waitForFunction(() => document.querySelectorAll('select option').length >= 2)
      await page.getByTestId('terminal').click()
      await page.keyboard.type('echo "second[$MARK]"\n')
      await rows.filter({ hasText: 'second[]' }).waitFor({ timeout: 15_000 })
    })
    expect(await sessions()).toHaveLength(2)
    await step(page, 'terminal-pick', async () => {
      await picker.selectOption(first?.id ?? '')
      await rows.filter({ hasText: 'got-kept-42' }).waitFor({ timeout: 15_000 })
      await page.getByRole('button', { name: 'Full screen' }).click()
      await page.waitForFunction(
        () => document.fullscreenElement?.querySelector('[data-testid=terminal]') != null,
      )
      await page.getByRole('button', { name: 'Exit full screen' }).click()
      await page.waitForFunction(() => document.fullscreenElement === null)
    })
  }, 120_000)

  it('after Stop: live again, a "stopped" marker in the history, and the next turn works', async () => {
    const status = page.locator('.thread .live')
    await step(page, 'chat-stop', async () => {
      await page.goto(`/instances/${instanceId}/chat`)
      const input = page.getByLabel('Message', { exact: true })
      await input.fill('please stall')
      await input.press('Enter')
      await page
        .locator('[data-role=assistant-streaming]', { hasText: 'stalling' })
        .waitFor({ timeout: 90_000 })
      await page.getByRole('button', { name: 'Stop' }).click()
      await page.getByRole('button', { name: 'Send' }).waitFor({ timeout: 30_000 })
      // Give a wrongly "reconnecting" label time to show.
      await new Promise((r) => setTimeout(r, 1500))
      expect(await status.textContent()).toBe('● live')
      expect(await page.getByRole('alert').count()).toBe(0)
      const stopped = page.locator('.msg[data-role=assistant][data-status=aborted]')
      await stopped.locator('.stopped-marker', { hasText: 'stopped' }).waitFor({ timeout: 30_000 })
      await artifact(page, 'chat-after-stop')
      await input.fill('after the stop')
      await input.press('Enter')
      await page
        .locator('.msg[data-role=assistant]', { hasText: 'echo: after the stop' })
        .waitFor({ timeout: 90_000 })
      expect(await status.textContent()).toBe('● live')
    })
  }, 240_000)

  it('lists instances by ID, truncates long names, searches, sorts, formats dates one way, counts deletes', async () => {
    const make = async (name: string) => {
      const res = await server.api('POST', '/api/instances', { body: { name, network: 'off' } })
      expect(res.status).toBe(201)
      return res.body.id as string
    }
    const twins = [await make('twin'), await make('twin')]
    const long = await make(`a-very-long-name-${'x'.repeat(80)}`)
    const me = (await server.api('GET', '/api/me')).body
    const table = page.getByRole('table', { name: 'Your instances' })
    const rowOf = (id: string) => table.locator(`tr[data-instance="${id}"]`)
    await step(page, 'list-ids', async () => {
      await page.goto('/instances')
      await page.getByText(`4 of ${me.instance_limit} used`).waitFor()
      for (const id of twins) {
        const idButton = rowOf(id).getByRole('button', { name: `Copy ID ${id.slice(0, 8)}` })
        expect(await idButton.textContent()).toBe(id.slice(0, 8))
      }
      await rowOf(twins[1] ?? '')
        .getByRole('button', { name: /^Copy ID/ })
        .click()
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(twins[1])
      // One date format: "Dec 1, 2026, 2:05 PM".
      const created = (await rowOf(instanceId).locator('time').textContent()) ?? ''
      expect(created).toMatch(/^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s[AP]M$/)
    })
    await step(page, 'list-long-name', async () => {
      const row = rowOf(long)
      const name = row.getByRole('link')
      expect(await name.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true)
      // The actions stay on one line: no button wraps below another.
      const boxes = await row
        .locator('.inst-actions button:visible')
        .evaluateAll((els) =>
          els.map((el) => ({ top: el.getBoundingClientRect().top, height: el.clientHeight })),
        )
      expect(boxes.length).toBeGreaterThan(1)
      const tops = boxes.map((b) => b.top)
      expect(Math.max(...tops) - Math.min(...tops)).toBeLessThan((boxes[0]?.height ?? 0) / 2)
      await artifact(page, 'instances-1440x900')
      await page.setViewportSize({ width: 390, height: 844 })
      await artifact(page, 'instances-390x844')
      await page.setViewportSize({ width: 1440, height: 900 })
    })
    await step(page, 'list-search-sort', async () => {
      const shown = () =>
        table.locator('tbody tr').evaluateAll((els) => els.map((e) => e.getAttribute('data-instance')))
      await page.getByLabel('Search').fill('twin')
      await page.getByText('2 of 4 shown').waitFor()
      expect((await shown()).sort()).toEqual([...twins].sort())
      await page.getByLabel('Search').fill('')
      await page.getByLabel('Sort by').selectOption({ label: 'Name' })
      expect((await shown())[0]).toBe(long)
      expect((await shown()).at(-1)).toBe(instanceId)
      await page.getByLabel('Sort by').selectOption({ label: 'Newest first' })
      expect((await shown())[0]).toBe(long)
      expect((await shown()).at(-1)).toBe(instanceId)
      await page.getByLabel('Sort by').selectOption({ label: 'Status' })
      expect(await page.getByLabel('Sort by').inputValue()).toBe('status')
    })
    // The ready instance goes at once (one still booting would wait for its boot to end);
    // the server's teardown deletes the others.
    await step(page, 'list-delete', async () => {
      await page.getByText(`4 of ${me.instance_limit} used`).waitFor()
      await rowOf(instanceId).getByRole('button', { name: 'Delete' }).click()
      await page
        .getByRole('dialog', { name: /Delete/ })
        .getByRole('button', { name: 'Delete for good' })
        .click()
      await rowOf(instanceId).waitFor({ state: 'detached', timeout: 60_000 })
      await page.getByText(`3 of ${me.instance_limit} used`).waitFor({ timeout: 10_000 })
    })
  }, 180_000)
})
