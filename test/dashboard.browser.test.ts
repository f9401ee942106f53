/// <reference lib="dom" />
import fs from 'node:fs'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { launchBrowser, newContext, screenshot, step } from './helpers/browser.js'
import { GATEWAY_PLANS, TEST_ENV } from './helpers/plans.js'
import { buildOnce, REPO } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'

const PASSWORD = 'dashboard-password'

/**
 * The dashboard in a real Chromium against the real server, one real instance with its
 * OpenClaw gateway (booted once for the whole file) and the scripted model server.
 */
describe('the dashboard in a browser', () => {
  let server: TestServer
  let model: ModelServer
  let browser: Browser
  let page: Page
  let key = ''
  let instanceId = ''

  const api = (method: string, path: string, body?: unknown, k = key) =>
    server.api(method, path, { key: k, ...(body !== undefined ? { body } : {}) })

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
    browser = await launchBrowser()
    page = await (await newContext(browser, server.url)).newPage()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.destroy()
    await model?.close()
  })

  it('sets the administrator password on the first-run screen and signs in', async () => {
    await step(page, 'first-run', async () => {
      await page.goto('/')
      await page.getByRole('heading', { name: /set the administrator password/ }).waitFor()
      await screenshot(page, 'dashboard-first-run')
      await page.getByLabel('First-start API key').fill(server.adminKey)
      await page.getByLabel('New password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Set password and sign in' }).click()
      await page.getByRole('heading', { name: 'Instances', exact: true }).waitFor()
    })
    // The cookie is HTTP-only: the page's script cannot read it.
    expect(await page.evaluate(() => document.cookie)).not.toContain('clawport_session')
  })

  it('creates an API key shown once, which works for an HTTP call', async () => {
    await step(page, 'create-key', async () => {
      await page.getByRole('link', { name: 'Account' }).click()
      await page.getByLabel('Key name').fill('browser test')
      await page.getByRole('button', { name: 'Create key' }).click()
      key = (await page.getByTestId('new-key').textContent())?.trim() ?? ''
      await screenshot(page, 'dashboard-account')
    })
    expect(key).toMatch(/^sk_live_/)
    const me = await api('GET', '/api/me')
    expect(me.status).toBe(200)
    expect(me.body.email).toBe('admin@clawport.local')
  })

  it('creates an instance and shows it becoming ready', async () => {
    await step(page, 'create-instance', async () => {
      await page.getByRole('link', { name: 'Instances' }).click()
      await page.getByLabel('Name (optional)').fill('browser box')
      await page.getByRole('button', { name: 'Create instance' }).click()
      const row = page.locator('tr', { hasText: 'browser box' })
      await row.waitFor()
      instanceId = (await row.getAttribute('data-instance')) ?? ''
      await row.locator('[data-status=ready]').waitFor({ timeout: 200_000 })
      await screenshot(page, 'dashboard-instances')
    })
    expect((await api('GET', `/api/instances/${instanceId}`)).body.status).toBe('ready')
  }, 240_000)

  it('chats: a streamed reply from the real gateway, and a turn started elsewhere followed live', async () => {
    await step(page, 'chat', async () => {
      await page.locator('tr', { hasText: 'browser box' }).getByRole('button', { name: 'Open' }).click()
      await page.getByRole('tab', { name: 'Chat' }).waitFor()
      await page.getByLabel('Message', { exact: true }).fill('hello from the **dashboard**')
      await page.getByLabel('Message', { exact: true }).press('Enter')
      await page
        .locator('.msg[data-role=assistant]', { hasText: 'echo: hello from the' })
        .waitFor({ timeout: 90_000 })
      // Rendered as Markdown: the bold survives as <strong>.
      await page.locator('.msg[data-role=assistant] strong', { hasText: 'dashboard' }).waitFor()
      await page.getByText('● live').waitFor()
    })
    const sessions = await api('GET', `/api/instances/${instanceId}/chat/sessions`)
    const sessionId = sessions.body[0].id
    // A turn started through the API shows up in the open page without a reload.
    const turn = await api('POST', `/api/instances/${instanceId}/chat`, {
      message: 'from the api',
      session_id: sessionId,
    })
    expect(turn.status).toBe(200)
    await step(page, 'chat-follow', async () => {
      await page.locator('.msg[data-role=user]', { hasText: 'from the api' }).waitFor({ timeout: 30_000 })
      await page
        .locator('.msg[data-role=assistant]', { hasText: 'echo: from the api' })
        .waitFor({ timeout: 30_000 })
      await screenshot(page, 'dashboard-chat')
    })
  }, 180_000)

  it('types in the terminal and reads the output', async () => {
    await step(page, 'terminal', async () => {
      await page.getByRole('tab', { name: 'Terminal' }).click()
      await page.getByText('● connected').waitFor({ timeout: 30_000 })
      await page.getByTestId('terminal').click()
      await page.keyboard.type('echo $((6*7))-from-xterm\n')
      await page.locator('.xterm-rows', { hasText: '42-from-xterm' }).waitFor({ timeout: 15_000 })
      await screenshot(page, 'dashboard-terminal')
    })
  })

  it('shows the desktop: the noVNC canvas draws the framebuffer', async () => {
    await step(page, 'desktop', async () => {
      await page.getByRole('tab', { name: 'Desktop' }).click()
      await page.getByText('● connected').waitFor({ timeout: 30_000 })
      await page.waitForFunction(
        () => {
          const canvas = document.querySelector('[data-testid=desktop] canvas') as HTMLCanvasElement | null
          if (!canvas || canvas.width < 320) return false
          const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data
          if (!data) return false
          // A drawn pixel is opaque; an untouched canvas is transparent.
          for (let i = 3; i < data.length; i += 4 * 97) if (data[i] === 255) return true
          return false
        },
        undefined,
        { timeout: 30_000 },
      )
      await screenshot(page, 'dashboard-desktop')
    })
  })

  it('uploads a file, then downloads it', async () => {
    const content = `uploaded from the browser ${Date.now()}\n`
    await step(page, 'files', async () => {
      await page.getByRole('tab', { name: 'Files' }).click()
      await page.getByLabel('Files to upload').setInputFiles({
        name: 'from-browser.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from(content),
      })
      const row = page.locator('tr[data-file="from-browser.txt"]')
      await row.waitFor({ timeout: 20_000 })
      await screenshot(page, 'dashboard-files')
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        row.getByRole('link', { name: 'Download' }).click(),
      ])
      const file = await download.path()
      expect(fs.readFileSync(file, 'utf8')).toBe(content)
    })
    const read = await api('GET', `/api/instances/${instanceId}/files/read?path=from-browser.txt`)
    expect(read.body.content).toBe(content)
  })

  it('makes a folder and renames a file through dialogs', async () => {
    await step(page, 'files-dialogs', async () => {
      await page.getByRole('button', { name: 'New folder' }).click()
      const made = page.getByRole('dialog', { name: /New folder/ })
      await made.getByLabel('Folder name').fill('made-in-browser')
      await made.getByRole('button', { name: 'Create folder' }).click()
      await page.locator('tr[data-file="made-in-browser"]').waitFor({ timeout: 20_000 })

      const row = page.locator('tr[data-file="from-browser.txt"]')
      await row.getByRole('button', { name: 'Rename' }).click()
      const rename = page.getByRole('dialog', { name: /Rename from-browser\.txt/ })
      expect(await rename.getByLabel('New name').inputValue()).toBe('from-browser.txt')
      // Escape cancels: nothing changes.
      await page.keyboard.press('Escape')
      await rename.waitFor({ state: 'hidden' })
      await row.getByRole('button', { name: 'Rename' }).click()
      await rename.getByLabel('New name').fill('renamed-in-browser.txt')
      await rename.getByRole('button', { name: 'Rename' }).click()
      await page.locator('tr[data-file="renamed-in-browser.txt"]').waitFor({ timeout: 20_000 })
      await screenshot(page, 'dashboard-files-dialogs')
    })
    const list = await api('GET', `/api/instances/${instanceId}/files?path=/workspace`)
    const names = list.body.entries.map((e: { name: string; type: string }) => `${e.name}:${e.type}`)
    expect(names).toContain('made-in-browser:dir')
    expect(names).toContain('renamed-in-browser.txt:file')
    expect(names).not.toContain('from-browser.txt:file')
  })

  it('revokes the key: it stops working at once', async () => {
    await step(page, 'revoke', async () => {
      await page.getByRole('link', { name: 'Account' }).click()
      const row = page.locator('tr', { hasText: 'browser test' })
      await row.getByRole('button', { name: 'Revoke' }).click()
      await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click()
      await row.waitFor({ state: 'detached' })
    })
    const me = await api('GET', '/api/me')
    expect(me.status).toBe(401)
    expect(me.body.code).toBe('api_key_revoked')
  })

  it('signs out: the sign-in page again, and the session is gone on the server', async () => {
    const cookies = await page.context().cookies()
    const session = cookies.find((c) => c.name === 'clawport_session')
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' })
    await step(page, 'sign-out', async () => {
      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.getByRole('heading', { name: 'Sign in' }).waitFor()
      await screenshot(page, 'dashboard-signed-out')
    })
    const replay = await fetch(`${server.url}/api/me`, {
      headers: { cookie: `clawport_session=${session?.value}` },
    })
    expect(replay.status).toBe(401)
    // And the password set on the first-run screen signs in again.
    await step(page, 'sign-in', async () => {
      await page.getByLabel('Email').fill('admin@clawport.local')
      await page.getByLabel('Password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in' }).click()
      // Back on the page where the user signed out.
      await page.getByRole('heading', { name: 'Account' }).waitFor()
    })
  })
})

/** The network mode in the dashboard, on a server without the gateway whose users get the `net` plan. */
describe('the dashboard sets an instance network', () => {
  let server: TestServer
  let browser: Browser

  /** Signs a new user on `plan` in to a fresh browser context and returns the page and an API key. */
  const signIn = async (email: string, plan: string) => {
    await server.admin('user', 'create', '--email', email, '--password', PASSWORD, '--plan', plan)
    const key = (await server.admin('key', 'create', '--email', email)).trim().split('\n').at(-1) ?? ''
    const page = await (await newContext(browser, server.url)).newPage()
    await page.goto('/')
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Instances', exact: true }).waitFor()
    return { page, key }
  }

  beforeAll(async () => {
    buildOnce()
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

  it('creates an instance with no network, then switches it to the internet once stopped', async () => {
    const { page, key } = await signIn('net@clawport.test', 'net')
    const network = page.getByLabel('Network', { exact: true })
    let id = ''
    await step(page, 'network-create', async () => {
      // The plan's own is the default, and it allows the internet.
      expect(await network.inputValue()).toBe('public')
      expect(await network.locator('option[value=public]').isDisabled()).toBe(false)
      await network.selectOption({ label: 'No network (off)' })
      await page.getByLabel('Name (optional)').fill('offline box')
      await page.getByRole('button', { name: 'Create instance' }).click()
      const row = page.locator('tr', { hasText: 'offline box' })
      await row.locator('td[data-network=off]', { hasText: 'No network' }).waitFor()
      id = (await row.getAttribute('data-instance')) ?? ''
      await row.locator('[data-status=ready]').waitFor({ timeout: 60_000 })
      await row.getByRole('button', { name: 'Open' }).click()
    })
    const mode = page.locator('strong[data-network]')
    const toInternet = page.getByRole('button', { name: 'Switch to Internet' })
    await step(page, 'network-running', async () => {
      await mode.filter({ hasText: 'No network' }).waitFor()
      expect(await toInternet.isDisabled()).toBe(true)
      await page.getByText('Stop the instance to change its network.').waitFor()
    })
    expect((await server.api('GET', `/api/instances/${id}`, { key })).body.network).toBe('off')
    await step(page, 'network-switch', async () => {
      await page.getByRole('button', { name: 'Shut down' }).click()
      await page.getByRole('dialog').getByRole('button', { name: 'Shut down' }).click()
      await page.locator('[data-status=stopped]').waitFor({ timeout: 60_000 })
      await toInternet.click()
      await mode.filter({ hasText: 'Internet: on, host and private networks blocked' }).waitFor()
      expect(await page.locator('strong[data-network=public]').count()).toBe(1)
      await screenshot(page, 'dashboard-network')
    })
    const saved = await server.api('GET', `/api/instances/${id}`, { key })
    expect(saved.body).toMatchObject({ status: 'stopped', network: 'public' })
    const hosts = page.getByLabel('Allowed hosts', { exact: true })
    await step(page, 'network-allowlist', async () => {
      await hosts.fill('10.0.0.1')
      await page.getByRole('button', { name: 'Use allowlist' }).click()
      await page.getByText('"10.0.0.1" cannot be an allowed host').waitFor()
      await hosts.fill('PyPI.org, *.example.com')
      await page.getByRole('button', { name: 'Use allowlist' }).click()
      await mode.filter({ hasText: 'Allowlist: only the listed hosts' }).waitFor()
      await page.getByRole('button', { name: 'Save allowlist' }).waitFor()
      expect(await hosts.inputValue()).toBe('pypi.org, *.example.com')
    })
    const listed = await server.api('GET', `/api/instances/${id}`, { key })
    expect(listed.body).toMatchObject({ network: 'allowlist', allowed_hosts: ['pypi.org', '*.example.com'] })
  }, 180_000)

  it('offers only no network on a plan without one', async () => {
    const { page } = await signIn('offline@clawport.test', 'pro')
    await step(page, 'network-plan-off', async () => {
      const network = page.getByLabel('Network', { exact: true })
      expect(await network.inputValue()).toBe('off')
      expect(await network.locator('option[value=public]').isDisabled()).toBe(true)
      await page.getByText('Your plan allows no network.').waitFor()
    })
  })
})
