/// <reference lib="dom" />
import fs from 'node:fs'
import type { Browser, Page, Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, newContext, step } from './helpers/browser.js'
import { buildOnce, REPO } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

const PASSWORD = 'details-password'
const EMAIL = 'admin@clawport.local'
const MISSING = '00000000-0000-0000-0000-000000000000'

/**
 * Smaller parts of the dashboard: the desktop tab says what it shows, the API reference checks
 * required path values and describes its responses, the delete dialog names the instance, a new
 * chat is stored only once something is sent, pipelines' chats are marked, and a missing instance
 * is not polled for. One real server (no agent), one real instance and Chromium.
 */
describe('dashboard details', () => {
  let server: TestServer
  let browser: Browser
  let page: Page
  let instanceId = ''
  /** Console errors and uncaught exceptions, with the URL they came from. */
  const consoleErrors: { text: string; url: string }[] = []

  beforeAll(async () => {
    buildOnce()
    if (!fs.existsSync(`${REPO}/web/dist/index.html`))
      throw new Error('build the dashboard first: npm run build:web')
    server = await startServer({ CLAWPORT_GATEWAY: 'off', CLAWPORT_TMP_SIZE_MB: '64' })
    const setup = await server.api('POST', '/api/auth/setup', {
      key: null,
      body: { api_key: server.adminKey, password: PASSWORD },
    })
    if (setup.status !== 200) throw new Error(`setup failed: ${JSON.stringify(setup.body)}`)
    instanceId = (await server.readyInstance(server.adminKey, { name: 'details box', network: 'off' })).id
    browser = await launchBrowser()
    page = await (await newContext(browser, server.url)).newPage()
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push({ text: m.text(), url: m.location().url })
    })
    page.on('pageerror', (e) => consoleErrors.push({ text: e.message, url: page.url() }))
    const login = await page.request.post('/api/auth/login', { data: { email: EMAIL, password: PASSWORD } })
    if (!login.ok()) throw new Error(`sign-in failed: ${await login.text()}`)
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.destroy()
  })

  /** Requests the page makes while `fn` runs whose path matches `re`. */
  async function requestsDuring(re: RegExp, fn: () => Promise<void>): Promise<Request[]> {
    const seen: Request[] = []
    const on = (r: Request) => {
      if (re.test(new URL(r.url()).pathname)) seen.push(r)
    }
    page.on('request', on)
    try {
      await fn()
    } finally {
      page.off('request', on)
    }
    return seen
  }

  /** The basics on the page as it is: every control has a name, and nothing scrolls sideways at 390 px. */
  async function basics(name: string): Promise<void> {
    const unnamed = await page.evaluate(() =>
      Array.from(document.querySelectorAll<HTMLElement>('input, select, textarea, button, a[href]'))
        .filter((el) => el.offsetParent !== null && (el as HTMLInputElement).type !== 'hidden')
        .filter((el) => {
          const labels = (el as HTMLInputElement).labels
          return !(
            labels?.length ||
            el.getAttribute('aria-label') ||
            el.getAttribute('aria-labelledby') ||
            el.title ||
            el.textContent?.trim()
          )
        })
        .map((el) => el.outerHTML.slice(0, 120)),
    )
    expect(unnamed, `${name}: controls without a name`).toEqual([])
    const size = page.viewportSize()
    await page.setViewportSize({ width: 390, height: 844 })
    await page.waitForTimeout(200)
    const overflow = await page.evaluate(() => {
      const width = document.documentElement.clientWidth
      const wide = Array.from(document.querySelectorAll<HTMLElement>('body *'))
        .filter((el) => el.getBoundingClientRect().right > width + 1)
        .map((el) => `${el.tagName.toLowerCase()}.${el.className} "${el.textContent?.slice(0, 40)}"`)
      return { by: document.documentElement.scrollWidth - width, wide: wide.slice(0, 5) }
    })
    expect(
      overflow.by,
      `${name}: sideways scroll at 390 px from ${overflow.wide.join(', ')}`,
    ).toBeLessThanOrEqual(0)
    if (size) await page.setViewportSize(size)
  }

  /** Focus shows on the focused control: an outline or a ring. */
  async function focusVisible(locator: ReturnType<Page['locator']>): Promise<void> {
    await locator.focus()
    await page.keyboard.press('Shift+Tab')
    await page.keyboard.press('Tab')
    const ring = await locator.evaluate((el) => {
      const s = getComputedStyle(el)
      return el === document.activeElement && (s.outlineStyle !== 'none' || s.boxShadow !== 'none')
    })
    expect(ring).toBe(true)
  }

  it('the desktop tab says what it shows and how to use it, and goes full screen', async () => {
    await step(page, 'desktop', async () => {
      await page.goto(`/instances/${instanceId}/desktop`)
      const screen = page.getByRole('region', { name: 'Desktop' })
      await screen.waitFor()
      const hint = await page.locator('#desktop-hint').innerText()
      expect(hint).toMatch(/instance's own screen/)
      expect(hint).toMatch(/agent opens a browser/)
      expect(hint).toMatch(/mouse and keyboard/)
      expect(await screen.getAttribute('aria-describedby')).toBe('desktop-hint')
      const full = page.getByRole('button', { name: 'Full screen' })
      await focusVisible(full)
      await full.click()
      await page.waitForFunction(() => document.fullscreenElement?.getAttribute('aria-label') === 'Desktop')
      await page.evaluate(() => document.exitFullscreen())
      await basics('desktop')
    })
  }, 60_000)

  it('the API reference refuses to send without required path values, and describes its responses', async () => {
    await step(page, 'reference', async () => {
      await page.goto('/docs#reference')
      const op = page.locator('details[id="chat.sessions.list"]')
      await op.locator('summary').click()
      const field = op.getByLabel('id (path, required)')
      await focusVisible(op.getByRole('button', { name: 'Try it' }))
      const sent = await requestsDuring(/\/chat\/sessions$/, async () => {
        await op.getByRole('button', { name: 'Try it' }).click()
        await op.getByRole('alert').waitFor()
        await page.waitForTimeout(500)
      })
      expect(sent).toEqual([])
      expect(await op.getByRole('alert').innerText()).toMatch(/Fill in id/)
      expect(await field.getAttribute('aria-invalid')).toBe('true')
      expect(await field.evaluate((el) => el === document.activeElement)).toBe(true)
      await field.fill(instanceId)
      expect(await op.getByRole('alert').count()).toBe(0)
      const again = await requestsDuring(/\/chat\/sessions$/, async () => {
        await op.getByRole('button', { name: 'Try it' }).click()
        await op.locator('pre').filter({ hasText: /^200/ }).waitFor()
      })
      expect(again).toHaveLength(1)
      // Responses say what they mean, from the document or the status and its schema.
      const responses = await op.locator('ul').first().innerText()
      expect(responses).toMatch(/^200 OK/m)
      // Error answers list their codes under the status, each with its meaning.
      expect(responses).toMatch(/^404 Not found Error$/m)
      expect(responses).toMatch(/^instance_not_found No such instance, or it is not yours\.$/m)
      expect(responses).toMatch(/^401 Not signed in Error$/m)
      expect(responses).toMatch(/^api_key_revoked The key was revoked/m)
      expect(responses).toMatch(/^rate_limited Too many requests; wait Retry-After seconds\.$/m)
      const reference = await page.locator('section[aria-label]').allInnerTexts()
      expect(reference.join('\n')).not.toContain('Default Response')
      // The OpenAPI document itself describes every error answer errorResponses lists.
      const doc = await server.api('GET', '/api/openapi.json')
      const list = doc.body.paths['/api/instances/{id}/chat/sessions'].get.responses
      expect(list['404'].description).toMatch(/No such instance/)
      expect(list['404'].content['application/json'].schema.$ref).toBe('#/components/schemas/Error')
      await basics('reference')
    })
  }, 60_000)

  it('the delete dialog names the instance: its name, or its id without one', async () => {
    // The instance's own Delete, not a file's in the files tab.
    const instanceDelete = () =>
      page
        .getByRole('group', { name: 'Instance actions' })
        .getByRole('button', { name: 'Delete', exact: true })
    const unnamed = await server.api('POST', '/api/instances', { body: { network: 'off' } })
    expect(unnamed.status).toBe(201)
    await server.waitStatus(unnamed.body.id, 'ready')
    await step(page, 'delete dialog', async () => {
      await page.goto(`/instances/${instanceId}/files`)
      await instanceDelete().click()
      const named = page.getByRole('dialog')
      expect(await named.getByRole('heading').innerText()).toBe('Delete details box?')
      await named.getByRole('button', { name: 'Cancel' }).click()
      await page.goto(`/instances/${unnamed.body.id}/files`)
      await instanceDelete().click()
      const dialog = page.getByRole('dialog')
      expect(await dialog.getByRole('heading').innerText()).toBe(`Delete ${unnamed.body.id}?`)
      await dialog.getByRole('button', { name: 'Cancel' }).click()
      // The dialog closes on the next render, not within the click.
      await dialog.waitFor({ state: 'hidden', timeout: 5000 })
      expect(await dialog.isVisible()).toBe(false)
    })
    expect((await server.api('DELETE', `/api/instances/${unnamed.body.id}`)).status).toBeLessThan(300)
  }, 60_000)

  it('a new chat is stored only once its first message is sent', async () => {
    const sessions = async () =>
      (await server.api('GET', `/api/instances/${instanceId}/chat/sessions`)).body as {
        title: string | null
      }[]
    await step(page, 'new chat', async () => {
      await page.goto(`/instances/${instanceId}/chat`)
      const list = page.getByRole('complementary', { name: 'Chat sessions' })
      await page.getByLabel('Message', { exact: true }).waitFor()
      await focusVisible(list.getByRole('button', { name: 'New chat', exact: true }))
      const made = await requestsDuring(/\/chat\/sessions$/, async () => {
        await list.getByRole('button', { name: 'New chat', exact: true }).click()
        await list.getByRole('button', { name: /not sent yet/ }).waitFor()
        await page.waitForTimeout(500)
      })
      expect(made.filter((r) => r.method() === 'POST')).toEqual([])
      expect(await sessions()).toEqual([])
      expect(await list.getByText('Untitled chat').count()).toBe(0)
      // Left without a word: nothing remains after a reload.
      await page.reload()
      await page.getByLabel('Message', { exact: true }).waitFor()
      expect(await list.getByRole('listitem').count()).toBe(0)
      // The first message makes the session, titled after it.
      await page.getByLabel('Message', { exact: true }).fill('hello from the details test')
      await page.getByRole('button', { name: 'Send' }).click()
      await list.getByRole('button', { name: /hello from the details test/ }).waitFor({ timeout: 15_000 })
      expect((await sessions()).map((s) => s.title)).toEqual(['hello from the details test'])
      await basics('chat')
    })
  }, 60_000)

  it("a pipeline's chat is its own session, marked in the chat list", async () => {
    const created = await server.api('POST', '/api/pipelines', {
      body: {
        name: 'nightly report',
        steps: [{ name: 'ask', type: 'chat', instance_id: instanceId, message: 'write the report' }],
      },
    })
    expect(created.status).toBe(201)
    const run = await server.api('POST', `/api/pipelines/${created.body.id}/runs`, { body: {} })
    expect(run.status).toBe(202)
    const title = `Pipeline: nightly report · run ${run.body.id.slice(0, 8)}`
    let titles: string[] = []
    await waitFor(
      () => `a session titled ${title}, sessions now ${JSON.stringify(titles)}`,
      async () => {
        const list = await server.api('GET', `/api/instances/${instanceId}/chat/sessions`)
        titles = list.body.map((s: { title: string }) => s.title)
        return titles.includes(title)
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    )
    // Its own session: the user's chat is left alone.
    expect(titles.sort()).toEqual([title, 'hello from the details test'].sort())
    await step(page, 'pipeline chat', async () => {
      await page.goto(`/instances/${instanceId}/chat`)
      const list = page.getByRole('complementary', { name: 'Chat sessions' })
      const marked = list.getByRole('button', { name: /nightly report/ })
      await marked.waitFor()
      expect(await marked.locator('.badge').innerText()).toBe('Pipeline')
      const plain = list.getByRole('button', { name: /hello from the details test/ })
      expect(await plain.locator('.badge').count()).toBe(0)
    })
    await server.api('POST', `/api/pipelines/${created.body.id}/runs/${run.body.id}/cancel`)
  }, 60_000)

  it('the page of a missing instance says so and stops asking for it', async () => {
    await step(page, 'not found', async () => {
      const asked = await requestsDuring(new RegExp(`/api/instances/${MISSING}`), async () => {
        await page.goto(`/instances/${MISSING}`)
        await page.getByRole('heading', { name: 'Instance not found' }).waitFor()
        await page.waitForTimeout(3500)
      })
      expect(asked).toHaveLength(1)
      expect(await page.getByRole('link', { name: 'Back to instances' }).count()).toBe(1)
      await basics('not found')
    })
  }, 30_000)

  it('left no console errors on these pages', () => {
    // The one expected answer: the missing instance's 404.
    const unexpected = consoleErrors.filter((e) => !e.url.includes(`/api/instances/${MISSING}`))
    expect(unexpected).toEqual([])
  })
})
