import fs from 'node:fs'
import path from 'node:path'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { REPO } from './server.js'

/** Debian's Chromium (scripts/setup.sh installs it); Playwright's own download is not used. */
export const CHROMIUM = process.env.CLAWPORT_CHROMIUM ?? '/usr/bin/chromium'

/** Where failing browser tests leave screenshots (gitignored). */
export const RESULTS_DIR = path.join(REPO, 'test-results')

/** Headless Chromium with the flags this kind of machine needs (no background network, no sandbox as root). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  })
}

export async function newContext(browser: Browser, baseURL: string): Promise<BrowserContext> {
  return browser.newContext({
    baseURL,
    viewport: { width: 1280, height: 860 },
    permissions: ['clipboard-read', 'clipboard-write'],
  })
}

/** Saves a full-page screenshot under test-results/ and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true })
  const file = path.join(RESULTS_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`)
  await page.screenshot({ path: file, fullPage: true }).catch(() => {})
  return file
}

/** Runs a browser step; on failure, a screenshot named after it is saved before the error goes on. */
export async function step<T>(page: Page, name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    const file = await screenshot(page, `FAILED-${name}`)
    throw new Error(`${(err as Error).message}\n(screenshot: ${file})`, { cause: err })
  }
}
