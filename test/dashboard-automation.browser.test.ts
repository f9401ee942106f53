/// <reference lib="dom" />
import fs from 'node:fs'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, newContext, screenshot, step } from './helpers/browser.js'
import { TEST_PLANS } from './helpers/plans.js'
import { buildOnce, REPO } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'

/**
 * The Swarms and Pipelines pages in a real Chromium against the real server, with instances
 * that run no gateway: a pipeline of exec steps run from the page, and a swarm made there.
 */
describe('the dashboard: swarms and pipelines', () => {
  let server: TestServer
  let browser: Browser
  let page: Page
  let pipelineId = ''

  const api = (method: string, path: string, body?: unknown) =>
    server.api(method, path, body !== undefined ? { body } : {})

  beforeAll(async () => {
    buildOnce()
    if (!fs.existsSync(`${REPO}/web/dist/index.html`))
      throw new Error('build the dashboard first: npm run build:web')
    server = await startServer({
      CLAWPORT_PLANS: TEST_PLANS,
      CLAWPORT_TMP_SIZE_MB: '64',
      CLAWPORT_GATEWAY: 'off',
    })
    browser = await launchBrowser()
    page = await (await newContext(browser, server.url)).newPage()
    await page.goto('/')
    await page.getByLabel('First-start API key').fill(server.adminKey)
    await page.getByLabel('New password').fill('automation-password')
    await page.getByRole('button', { name: 'Set password and sign in' }).click()
    await page.getByRole('heading', { name: 'Instances', exact: true }).waitFor()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.destroy()
  })

  it('runs a pipeline of exec steps from its page and shows each step succeed with its output', async () => {
    const box = await server.readyInstance()
    const created = await api('POST', '/api/pipelines', {
      name: 'build and greet',
      steps: [
        { name: 'build', type: 'exec', instance_id: box.id, command: 'echo built-$((20+22))' },
        {
          parallel: [
            {
              name: 'greet',
              type: 'exec',
              instance_id: box.id,
              command: 'echo "hello {{steps.build.output}}"',
            },
            { name: 'nap', type: 'exec', instance_id: box.id, command: 'sleep 1; echo rested' },
          ],
        },
      ],
      schedule: '0 3 * * *',
    })
    expect(created.status).toBe(201)
    pipelineId = created.body.id

    await step(page, 'pipelines', async () => {
      await page.getByRole('link', { name: 'Pipelines', exact: true }).click()
      await page.getByRole('heading', { name: 'Pipelines', exact: true }).waitFor()
      await page.locator(`tr[data-pipeline="${pipelineId}"]`).getByRole('button', { name: 'Open' }).click()
      await page.getByRole('heading', { name: 'build and greet' }).waitFor()
      await page.getByText('echo built-$((20+22))').waitFor()
      await page.getByText('0 3 * * *').waitFor()
      await page.getByText('No runs yet.').waitFor()
      await page.getByRole('button', { name: 'Start run' }).click()
      const view = page.locator('[data-run-view]')
      await view.locator('h2 [data-status=succeeded]').waitFor({ timeout: 60_000 })
      await view.locator('tr[data-step=build] [data-status=succeeded]').waitFor()
      await view.locator('tr[data-step=build] .step-output', { hasText: 'built-42' }).waitFor()
      await view.locator('tr[data-step=greet] .step-output', { hasText: 'hello built-42' }).waitFor()
      await view.locator('tr[data-step=nap] .step-output', { hasText: 'rested' }).waitFor()
      // The runs list catches up with the finished run.
      await page.locator('tr[data-run] [data-status=succeeded]').waitFor({ timeout: 15_000 })
      await screenshot(page, 'dashboard-pipeline-run')
    })
    const runs = await api('GET', `/api/pipelines/${pipelineId}/runs`)
    expect(runs.body).toHaveLength(1)
    expect(runs.body[0].status).toBe('succeeded')
    expect(runs.body[0].steps.map((s: { output: string }) => s.output.trim())).toEqual([
      'built-42',
      'hello built-42',
      'rested',
    ])
  }, 120_000)

  it('cancels a long run from the page', async () => {
    const long = await api('POST', '/api/pipelines', {
      name: 'long one',
      steps: [
        {
          name: 'wait',
          type: 'exec',
          instance_id: (await api('GET', '/api/instances')).body[0].id,
          command: 'sleep 60',
        },
      ],
    })
    await step(page, 'pipeline-cancel', async () => {
      await page.goto(`/pipelines/${long.body.id}`)
      await page.getByRole('button', { name: 'Start run' }).click()
      const view = page.locator('[data-run-view]')
      await view.locator('tr[data-step=wait] [data-status=running]').waitFor({ timeout: 30_000 })
      await page.getByText('● live').waitFor()
      await view.getByRole('button', { name: 'Cancel run' }).click()
      await page.getByRole('dialog').getByRole('button', { name: 'Cancel run' }).click()
      await view.locator('h2 [data-status=canceled]').waitFor({ timeout: 30_000 })
    })
  }, 90_000)

  it('lists the pipelines', async () => {
    await step(page, 'pipelines-list', async () => {
      await page.getByRole('link', { name: 'Pipelines', exact: true }).click()
      await page.locator(`tr[data-pipeline="${pipelineId}"]`).waitFor()
      await screenshot(page, 'dashboard-pipelines')
    })
  })

  it('creates a swarm of two from the page and lists its members becoming ready', async () => {
    await step(page, 'swarms', async () => {
      await page.getByRole('link', { name: 'Swarms', exact: true }).click()
      await page.getByRole('heading', { name: 'Swarms', exact: true }).waitFor()
      await page.getByText('No swarms yet.').waitFor()
      await page.getByLabel('Swarm name').fill('crew')
      await page.getByLabel('Members').fill('2')
      await page.getByRole('button', { name: 'Create swarm' }).click()
      const card = page.locator('article[data-swarm]', { hasText: 'crew' })
      await card.waitFor({ timeout: 30_000 })
      await expect.poll(() => card.locator('tr[data-member]').count(), { timeout: 30_000 }).toBe(2)
      await expect
        .poll(() => card.locator('tr[data-member] [data-status=ready]').count(), { timeout: 90_000 })
        .toBe(2)
      await screenshot(page, 'dashboard-swarms')
    })
    const swarms = await api('GET', '/api/swarms')
    expect(swarms.body).toHaveLength(1)
    expect(swarms.body[0]).toMatchObject({ name: 'crew', size: 2 })
  }, 150_000)

  it('scales the swarm down to one, then deletes it after confirming', async () => {
    const card = page.locator('article[data-swarm]', { hasText: 'crew' })
    await step(page, 'swarm-scale-delete', async () => {
      await card.getByLabel('Size').fill('1')
      await card.getByRole('button', { name: 'Scale' }).click()
      await expect.poll(() => card.locator('tr[data-member]').count(), { timeout: 60_000 }).toBe(1)
      await card.getByRole('button', { name: 'Delete' }).click()
      await page.getByRole('dialog').getByRole('button', { name: 'Delete swarm' }).click()
      await page.getByText('No swarms yet.').waitFor({ timeout: 60_000 })
    })
    expect((await api('GET', '/api/swarms')).body).toHaveLength(0)
  }, 150_000)

  it('administers users and invites: a new user given a password in a dialog signs in with it', async () => {
    const email = 'made-by-admin@example.com'
    await step(page, 'admin-users', async () => {
      await page.goto('/admin/users')
      const form = page.getByRole('form', { name: 'New user' })
      await form.getByLabel('Email').fill(email)
      await form.getByLabel('Plan').selectOption('pro')
      await form.getByRole('button', { name: 'Create user' }).click()
      const row = page.locator('tr', { hasText: email })
      await row.getByText('no password').waitFor({ timeout: 20_000 })

      await row.getByRole('button', { name: 'Set password' }).click()
      const dialog = page.getByRole('dialog', { name: `New password for ${email}` })
      await dialog.getByLabel(/New password/).fill('short')
      await dialog.getByRole('button', { name: 'Set password' }).click()
      // Too short: the form refuses it and the dialog stays open.
      await dialog.waitFor({ state: 'visible' })
      await dialog.getByLabel(/New password/).fill('admin-set-password')
      await dialog.getByRole('button', { name: 'Set password' }).click()
      await row.getByText('no password').waitFor({ state: 'detached', timeout: 20_000 })
      await screenshot(page, 'dashboard-admin-users')
    })
    const users = await api('GET', '/api/admin/users')
    expect(users.body.find((u: { email: string }) => u.email === email)).toMatchObject({
      plan: 'pro',
      has_password: true,
    })

    await step(page, 'admin-invites', async () => {
      await page.goto('/admin/invites')
      await page.getByLabel('Uses').fill('3')
      await page.getByRole('button', { name: 'Create invite' }).click()
      await page.getByRole('table', { name: 'Invite codes' }).getByText('0 / 3').waitFor({ timeout: 20_000 })
    })
    const invites = await api('GET', '/api/admin/invites')
    expect(invites.body.some((i: { max_uses: number; used_count: number }) => i.max_uses === 3)).toBe(true)

    // The new user signs in with the password the administrator set, in a browser of their own.
    const theirs = await (await newContext(browser, server.url)).newPage()
    await step(theirs, 'admin-made-user-signs-in', async () => {
      await theirs.goto('/')
      await theirs.getByLabel('Email').fill(email)
      await theirs.getByLabel('Password').fill('admin-set-password')
      await theirs.getByRole('button', { name: 'Sign in' }).click()
      await theirs.getByRole('heading', { name: 'Instances', exact: true }).waitFor()
      expect(await theirs.getByRole('link', { name: 'Admin' }).count()).toBe(0)
    })
    await theirs.context().close()
  }, 90_000)
})

describe('the dashboard: open sign-up', () => {
  let server: TestServer
  let browser: Browser

  beforeAll(async () => {
    buildOnce()
    server = await startServer({
      CLAWPORT_PLANS: TEST_PLANS,
      CLAWPORT_GATEWAY: 'off',
      CLAWPORT_SIGNUP: 'open',
    })
    browser = await launchBrowser()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.destroy()
  })

  it('creates an account from the sign-in page, on the plan of its invite code', async () => {
    const invite = await server.api('POST', '/api/admin/invites', { body: { plan: 'solo', uses: 1 } })
    expect(invite.status).toBe(201)
    const page = await (await newContext(browser, server.url)).newPage()
    await step(page, 'signup', async () => {
      await page.goto('/')
      await page.getByRole('button', { name: 'Sign in with another account' }).click()
      await page.getByRole('button', { name: 'No account? Sign up' }).click()
      await page.getByRole('heading', { name: 'Create an account' }).waitFor()
      await page.getByLabel('Email').fill('newcomer@example.com')
      await page.getByLabel('New password').fill('newcomer-password')
      await page.getByLabel('Invite code (optional)').fill(invite.body.code)
      await page.getByRole('button', { name: 'Create account' }).click()
      await page.getByRole('heading', { name: 'Instances', exact: true }).waitFor()
      await screenshot(page, 'dashboard-signup')
    })
    const users = await server.api('GET', '/api/admin/users')
    expect(users.body.find((u: { email: string }) => u.email === 'newcomer@example.com')).toMatchObject({
      plan: 'solo',
      has_password: true,
    })
    // The code was single use: a second account cannot redeem it.
    const again = await server.api('POST', '/api/auth/signup', {
      body: { email: 'second@example.com', password: 'second-password', invite_code: invite.body.code },
      key: null,
      headers: { origin: server.url },
    })
    expect(again.status).toBe(403)
    expect(again.body).toMatchObject({ code: 'invite_used_up', status: 403 })
    await page.context().close()
  }, 90_000)
})
