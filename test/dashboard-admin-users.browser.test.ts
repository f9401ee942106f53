/// <reference lib="dom" />
import fs from 'node:fs'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, newContext, screenshot, step } from './helpers/browser.js'
import { TEST_PLANS } from './helpers/plans.js'
import { buildOnce, REPO } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'

const ADMIN_EMAIL = 'admin@clawport.local'
const ADMIN_PASSWORD = 'admin-users-password'
const PASSWORD = 'a-user-password'

/**
 * Administrators disabling, deleting and looking after users, and the automation pages'
 * pipeline editor, swarm roles and run steps, in a real Chromium against the real server with
 * instances that run no gateway.
 */
describe('the dashboard: users administered, pipelines edited, swarm roles set', () => {
  let server: TestServer
  let browser: Browser
  let context: BrowserContext
  let page: Page

  /** A user on the pro plan with a password, and their key. */
  async function user(email: string): Promise<string> {
    const res = await server.api('POST', '/api/admin/users', {
      body: { email, plan: 'pro', password: PASSWORD },
    })
    if (res.status !== 201) throw new Error(`user failed: ${JSON.stringify(res.body)}`)
    return (await server.admin('key', 'create', '--email', email)).trim().split('\n').at(-1) as string
  }

  /** The row of a user in the Users table. */
  const row = (email: string) => page.locator(`tr[data-user="${email}"]`)
  const said = (text: string) => page.getByRole('status').filter({ hasText: text })

  beforeAll(async () => {
    buildOnce()
    if (!fs.existsSync(`${REPO}/web/dist/index.html`))
      throw new Error('build the dashboard first: npm run build:web')
    server = await startServer({
      CLAWPORT_PLANS: TEST_PLANS,
      CLAWPORT_TMP_SIZE_MB: '64',
      CLAWPORT_GATEWAY: 'off',
    })
    const setup = await server.api('POST', '/api/auth/setup', {
      key: null,
      body: { api_key: server.adminKey, password: ADMIN_PASSWORD },
    })
    if (setup.status !== 200) throw new Error(`setup failed: ${JSON.stringify(setup.body)}`)
    browser = await launchBrowser()
    context = await newContext(browser, server.url)
    page = await context.newPage()
    const login = await page.request.post('/api/auth/login', {
      data: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
    })
    if (!login.ok()) throw new Error(`sign-in failed: ${await login.text()}`)
  }, 120_000)

  afterAll(async () => {
    await context?.close().catch(() => {})
    await browser?.close()
    await server?.destroy()
  })

  it("lists a user's instances on the admin page and opens one; a stranger still gets 404", async () => {
    const key = await user('uma@example.com')
    const stranger = await user('sam@example.com')
    const box = await server.readyInstance(key, { name: 'uma-box' })
    await step(page, 'admin-user-instances', async () => {
      await page.goto('/admin/users')
      await row('uma@example.com')
        .getByRole('button', { name: /^Instances of uma@example\.com/ })
        .click()
      const list = page.getByRole('list', { name: 'Instances of uma@example.com' })
      await list.getByRole('link', { name: 'uma-box' }).click()
      await page.getByRole('heading', { name: 'uma-box' }).waitFor()
      await page.locator('[data-status=ready]').first().waitFor()
      expect(new URL(page.url()).pathname).toBe(`/instances/${box.id}`)
      await page.getByText(box.id).waitFor()
      await screenshot(page, 'admin-opens-user-instance')
    })
    const foreign = await server.api('GET', `/api/instances/${box.id}`, { key: stranger })
    expect(foreign.status).toBe(404)
    expect(foreign.body.code).toBe('instance_not_found')
  }, 120_000)

  it('disables a user after a confirmation naming them: their key and sign-in stop, until enabled', async () => {
    const key = await user('vic@example.com')
    const theirs = await (await newContext(browser, server.url)).newPage()
    try {
      const signIn = await theirs.request.post('/api/auth/login', {
        data: { email: 'vic@example.com', password: PASSWORD },
      })
      expect(signIn.ok()).toBe(true)
      await theirs.goto('/instances')
      await theirs.getByRole('heading', { name: 'Instances', exact: true }).waitFor()

      await step(page, 'admin-disable', async () => {
        await page.goto('/admin/users')
        // Never yourself.
        expect(await row(ADMIN_EMAIL).getByRole('button', { name: 'Disable' }).isDisabled()).toBe(true)
        expect(await row(ADMIN_EMAIL).getByRole('button', { name: 'Delete' }).isDisabled()).toBe(true)
        await row('vic@example.com').getByRole('button', { name: 'Disable' }).click()
        const dialog = page.getByRole('dialog', { name: 'Disable vic@example.com?' })
        await dialog.getByRole('button', { name: 'Disable user' }).click()
        await said('vic@example.com is disabled').waitFor()
        await row('vic@example.com').getByText('disabled', { exact: true }).waitFor()
        await screenshot(page, 'admin-user-disabled')
      })
      const byKey = await server.api('GET', '/api/instances', { key })
      expect(byKey.status).toBe(401)
      expect(byKey.body.code).toBe('user_disabled')

      await step(theirs, 'disabled-user-signed-out', async () => {
        await theirs.reload()
        await theirs.getByRole('button', { name: 'Sign in' }).waitFor()
        await theirs.getByLabel('Email').fill('vic@example.com')
        await theirs.getByLabel('Password').fill(PASSWORD)
        await theirs.getByRole('button', { name: 'Sign in' }).click()
        await theirs.getByText('This account has been disabled by an administrator').waitFor()
      })

      await step(page, 'admin-enable', async () => {
        await row('vic@example.com').getByRole('button', { name: 'Enable' }).click()
        await said('vic@example.com is enabled again.').waitFor()
      })
      expect((await server.api('GET', '/api/instances', { key })).status).toBe(200)
      await step(theirs, 'enabled-user-signs-in', async () => {
        await theirs.getByRole('button', { name: 'Sign in' }).click()
        await theirs.getByRole('heading', { name: 'Instances', exact: true }).waitFor()
      })
    } finally {
      await theirs.context().close()
    }
  }, 90_000)

  it('deletes a user after a confirmation, but not one who still has instances', async () => {
    await step(page, 'admin-delete', async () => {
      await page.goto('/admin/users')
      await row('uma@example.com').getByRole('button', { name: 'Delete' }).click()
      await page
        .getByRole('dialog', { name: 'Delete uma@example.com?' })
        .getByRole('button', { name: 'Delete user' })
        .click()
      await page
        .getByRole('alert')
        .filter({ hasText: 'uma@example.com still has 1 instance; delete it first' })
        .waitFor()
      await row('uma@example.com').waitFor()

      await row('vic@example.com').getByRole('button', { name: 'Delete' }).click()
      await page
        .getByRole('dialog', { name: 'Delete vic@example.com?' })
        .getByRole('button', { name: 'Delete user' })
        .click()
      await said('vic@example.com was deleted.').waitFor()
      await row('vic@example.com').waitFor({ state: 'detached' })
    })
    const users = (await server.api('GET', '/api/admin/users')).body as Array<{ email: string }>
    expect(users.map((u) => u.email)).toContain('uma@example.com')
    expect(users.map((u) => u.email)).not.toContain('vic@example.com')
  }, 60_000)

  it('creates, edits and deletes a pipeline in the browser; run steps name their instance with a link', async () => {
    const worker = await server.readyInstance(server.adminKey, { name: 'worker' })
    let id = ''
    await step(page, 'pipeline-create', async () => {
      await page.goto('/pipelines')
      await page.getByRole('button', { name: 'New pipeline' }).click()
      const form = page.getByRole('form', { name: 'New pipeline' })
      await form.getByLabel('Pipeline name').fill('nightly')
      await form.getByLabel('Runs on (step 1)').selectOption({ label: 'worker' })
      await form.getByLabel('Command of step 1').fill('echo one')
      await form.getByRole('button', { name: 'Add step' }).click()
      await form.getByLabel('Name of step 2').fill('second')
      await form.getByLabel('Runs on (step 2)').selectOption({ label: 'worker' })
      await form.getByLabel('Command of step 2').fill('echo two')
      await form.getByLabel('Runs at the same time as step 1').check()
      await screenshot(page, 'pipeline-editor')
      await form.getByRole('button', { name: 'Create pipeline' }).click()
      await page.getByRole('heading', { name: 'nightly' }).waitFor()
      id = new URL(page.url()).pathname.split('/').pop() as string
    })
    const created = (await server.api('GET', `/api/pipelines/${id}`)).body
    expect(created.steps).toEqual([
      {
        parallel: [
          expect.objectContaining({
            name: 'step-1',
            type: 'exec',
            instance_id: worker.id,
            command: 'echo one',
          }),
          expect.objectContaining({
            name: 'second',
            type: 'exec',
            instance_id: worker.id,
            command: 'echo two',
          }),
        ],
      },
    ])

    await step(page, 'pipeline-run-targets', async () => {
      const steps = page.getByRole('table', { name: 'Steps', exact: true })
      expect(await steps.getByRole('link', { name: 'worker' }).count()).toBe(2)
      await page.getByRole('button', { name: 'Start run' }).click()
      const view = page.locator('[data-run-view]')
      await view.locator('h2 [data-status=succeeded]').waitFor({ timeout: 60_000 })
      const link = view.locator('tr[data-step=second]').getByRole('link', { name: 'worker' })
      expect(await link.getAttribute('href')).toBe(`/instances/${worker.id}`)
      await view.locator('tr[data-step=second] .step-output', { hasText: 'two' }).waitFor()
      // No id prefix stands in for the instance.
      expect(await view.getByText(worker.id.slice(0, 8)).count()).toBe(0)
      await screenshot(page, 'pipeline-run-instance-names')
    })

    await step(page, 'pipeline-edit', async () => {
      await page.getByRole('button', { name: 'Edit' }).click()
      const form = page.getByRole('form', { name: 'Edit nightly' })
      await form.getByLabel('Pipeline name').fill('nightly-2')
      await form.getByLabel('Command of step 1').fill('echo uno')
      await form.getByLabel('Runs at the same time as step 1').uncheck()
      await form.getByLabel('Can be started from a webhook URL').check()
      await form.getByRole('button', { name: 'Save pipeline' }).click()
      await page.getByRole('heading', { name: 'nightly-2' }).waitFor()
      await page.getByText('echo uno').waitFor()
    })
    // A webhook made by the edit: its URL (with the secret) is shown this once.
    const hookUrl = (await page.locator('[data-webhook-url]').textContent()) ?? ''
    expect(hookUrl).toContain(`/api/pipelines/${id}/webhook/`)
    const edited = (await server.api('GET', `/api/pipelines/${id}`)).body
    expect(edited).toMatchObject({ id, name: 'nightly-2' })
    expect(edited.steps.map((s: { name: string; command: string }) => [s.name, s.command])).toEqual([
      ['step-1', 'echo uno'],
      ['second', 'echo two'],
    ])
    expect((await server.api('GET', `/api/pipelines/${id}/runs`)).body).toHaveLength(1)
    const hooked = await server.api('POST', new URL(hookUrl, server.url).pathname, { key: null, body: {} })
    expect(hooked.status).toBe(202)

    await step(page, 'pipeline-delete', async () => {
      await page.getByRole('button', { name: 'Delete' }).click()
      await page
        .getByRole('dialog', { name: 'Delete the pipeline nightly-2?' })
        .getByRole('button', { name: 'Delete pipeline' })
        .click()
      await page.getByRole('heading', { name: 'Pipelines', exact: true }).waitFor()
      await page.getByText('No pipelines yet.').waitFor()
    })
    expect((await server.api('GET', `/api/pipelines/${id}`)).status).toBe(404)
  }, 150_000)

  it("sets swarm members' roles and instructions when creating and when growing a swarm", async () => {
    await step(page, 'swarm-roles', async () => {
      await page.goto('/swarms')
      const form = page.getByRole('form', { name: 'New swarm' })
      await form.getByLabel('Swarm name').fill('duo')
      await form.getByLabel('Members').fill('2')
      await form.getByText('Roles and instructions of members 1 to 2').click()
      await form.getByLabel('Role of member 1').fill('lead')
      await form.getByLabel('Instructions for member 1').fill('Plan the work and split it.')
      await form.getByLabel('Role of member 2').fill('helper')
      await form.getByRole('button', { name: 'Create swarm' }).click()
      const card = page.locator('article[data-swarm]', { hasText: 'duo' })
      await card.getByRole('cell', { name: 'Plan the work and split it.' }).waitFor({ timeout: 30_000 })
      await card.getByRole('cell', { name: 'helper', exact: true }).waitFor()

      await card.getByLabel('Size').fill('3')
      await card.getByText('Roles and instructions of member 3').click()
      await card.getByLabel('Role of member 3').fill('tester')
      await card.getByLabel('Instructions for member 3').fill('Check what the others made.')
      await card.getByRole('button', { name: 'Scale' }).click()
      await card.getByRole('cell', { name: 'tester', exact: true }).waitFor({ timeout: 30_000 })
      await screenshot(page, 'swarm-roles')
    })
    const swarm = (await server.api('GET', '/api/swarms')).body[0]
    expect(
      swarm.members.map((m: { role: string; instructions: string }) => [m.role, m.instructions]),
    ).toEqual([
      ['lead', 'Plan the work and split it.'],
      ['helper', null],
      ['tester', 'Check what the others made.'],
    ])
    expect((await server.api('DELETE', `/api/swarms/${swarm.id}`)).status).toBe(204)
  }, 150_000)
})
