/// <reference lib="dom" />
import fs from 'node:fs'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { launchBrowser, newContext, step } from './helpers/browser.js'
import { buildOnce, REPO } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'

const ADMIN_EMAIL = 'admin@clawport.local'
const ADMIN_PASSWORD = 'settings-admin-password'
const USER_EMAIL = 'settings-user@example.com'
const USER_PASSWORD = 'settings-user-password'
const OPERATOR_MODEL = 'test-model'

/**
 * Model settings in the dashboard: a user sees whether the server's model applies (never its URL
 * or name; those are for administrators), and sets, saves again and clears their own.
 * A real server and Chromium, with the scripted model as the operator's upstream.
 */
describe('model settings in the dashboard', () => {
  let server: TestServer
  let model: ModelServer
  let browser: Browser
  const contexts: BrowserContext[] = []

  async function signedIn(email: string, password: string): Promise<Page> {
    const context = await newContext(browser, server.url)
    contexts.push(context)
    const page = await context.newPage()
    await page.setViewportSize({ width: 1440, height: 900 })
    const login = await page.request.post('/api/auth/login', { data: { email, password } })
    if (!login.ok()) throw new Error(`sign-in failed: ${await login.text()}`)
    return page
  }

  beforeAll(async () => {
    buildOnce()
    if (!fs.existsSync(`${REPO}/web/dist/index.html`))
      throw new Error('build the dashboard first: npm run build:web')
    model = await startModelServer()
    server = await startServer({ CLAWPORT_LLM_BASE_URL: model.baseUrl, CLAWPORT_LLM_MODEL: OPERATOR_MODEL })
    const setup = await server.api('POST', '/api/auth/setup', {
      key: null,
      body: { api_key: server.adminKey, password: ADMIN_PASSWORD },
    })
    if (setup.status !== 200) throw new Error(`setup failed: ${JSON.stringify(setup.body)}`)
    const user = await server.api('POST', '/api/admin/users', {
      body: { email: USER_EMAIL, password: USER_PASSWORD },
    })
    if (user.status !== 201) throw new Error(`user failed: ${JSON.stringify(user.body)}`)
    browser = await launchBrowser()
  }, 120_000)

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {})
    await browser?.close()
    await server?.destroy()
    await model?.close()
  })

  it("tells a user the server's model applies without showing it, and lets them set, save again and clear their own", async () => {
    const page = await signedIn(USER_EMAIL, USER_PASSWORD)
    const card = page.locator('form[aria-labelledby="model-title"]')
    const current = page.getByTestId('model-current')
    const url = card.getByLabel('Upstream URL')
    const name = page.getByRole('textbox', { name: 'Model', exact: true })
    const saved = card.getByRole('status').filter({ hasText: /^(Saved|Cleared)/ })

    await step(page, 'settings-operator', async () => {
      await page.goto('/account')
      await card.getByText("Your instances use this server's model.").waitFor()
      // Neither the page nor the API the page reads shows the operator's URL or model to a user.
      const text = await page.locator('body').innerText()
      expect(text).not.toContain(model.baseUrl)
      expect(text).not.toContain(OPERATOR_MODEL)
      expect(await url.inputValue()).toBe('')
      expect(await name.inputValue()).toBe('')
      const view = await (await page.request.get('/api/me/model')).json()
      expect(view).toMatchObject({ source: 'operator', base_url: null, model: null, api_key_set: false })
      // Testing the server's own model says whether it answers, still without naming it.
      await card.getByRole('button', { name: 'Test connection' }).click()
      const answer = card.getByRole('status').filter({ hasText: "the server's model answered" })
      await answer.waitFor()
      expect(await answer.innerText()).not.toContain(model.baseUrl)
    })

    await step(page, 'settings-own', async () => {
      await url.fill('https://llm.example.com/v1')
      await name.fill('my-model')
      await card.getByLabel('API key', { exact: true }).fill('sk-my-own-key')
      await card.getByRole('button', { name: 'Save my model' }).click()
      await saved.filter({ hasText: 'Saved.' }).waitFor()
      await current.filter({ hasText: 'your own model, my-model at https://llm.example.com/v1' }).waitFor()
      expect(await card.getByRole('alert').count()).toBe(0)
    })

    await step(page, 'settings-save-again', async () => {
      // After a reload the form holds the user's own values, and saving them as they are works
      // and keeps the saved key.
      await page.reload()
      await current.filter({ hasText: 'your own model' }).waitFor()
      expect(await url.inputValue()).toBe('https://llm.example.com/v1')
      expect(await name.inputValue()).toBe('my-model')
      await card.getByText('A key is saved for this URL; leave empty to keep it').waitFor()
      await card.getByRole('button', { name: 'Save my model' }).click()
      await saved.filter({ hasText: 'Saved.' }).waitFor()
      expect(await card.getByRole('alert').count()).toBe(0)
      const view = await (await page.request.get('/api/me/model')).json()
      expect(view).toMatchObject({ source: 'user', model: 'my-model', api_key_set: true })
    })

    await step(page, 'settings-clear', async () => {
      await card.getByRole('button', { name: 'Clear my model' }).click()
      await saved.filter({ hasText: "Cleared. Your instances use this server's model again." }).waitFor()
      await current.filter({ hasText: "Your instances use this server's model." }).waitFor()
      expect(await url.inputValue()).toBe('')
      expect(await name.inputValue()).toBe('')
      expect(await card.getByRole('button', { name: 'Clear my model' }).count()).toBe(0)
      expect((await (await page.request.get('/api/me/model')).json()).source).toBe('operator')
    })
  })

  it("shows an administrator the server's URL and model, outside the form", async () => {
    const page = await signedIn(ADMIN_EMAIL, ADMIN_PASSWORD)
    await step(page, 'settings-admin', async () => {
      await page.goto('/account')
      await page
        .getByTestId('model-current')
        .filter({ hasText: `this server's model, ${OPERATOR_MODEL} at ${model.baseUrl}` })
        .waitFor()
      expect(await page.getByLabel('Upstream URL').inputValue()).toBe('')
      expect(await page.getByRole('textbox', { name: 'Model', exact: true }).inputValue()).toBe('')
    })
  })
})
