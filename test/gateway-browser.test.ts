import { inflateSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TurnEvent } from '../src/core/agent.js'
import { asUser } from '../src/core/scope.js'
import type { UserRow } from '../src/store/index.js'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { gatewayEnv } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { toolEvents } from './helpers/tools.js'

const WIDTH = 1024
const HEIGHT = 640
const PORT = 8765

/** The pixels of a screenshot (8-bit RGB, as the clawlet encodes it). */
function rgb(png: Buffer): { width: number; height: number; at: (x: number, y: number) => number[] } {
  let off = 8
  const idat: Buffer[] = []
  let width = 0
  let height = 0
  while (off < png.length) {
    const len = png.readUInt32BE(off)
    const type = png.subarray(off + 4, off + 8).toString('latin1')
    const data = png.subarray(off + 8, off + 8 + len)
    if (type === 'IHDR') {
      width = data.readUInt32BE(0)
      height = data.readUInt32BE(4)
    }
    if (type === 'IDAT') idat.push(data)
    off += 12 + len
  }
  const raw = inflateSync(Buffer.concat(idat))
  const stride = width * 3 + 1
  // The clawlet writes every row with filter Sub (1): each byte adds the one 3 bytes left of it.
  for (let y = 0; y < height; y++) {
    expect(raw[y * stride]).toBe(1)
    for (let i = y * stride + 4; i < (y + 1) * stride; i++)
      raw[i] = ((raw[i] as number) + (raw[i - 3] as number)) & 0xff
  }
  return {
    width,
    height,
    at: (x, y) => [...raw.subarray(y * stride + 1 + x * 3, y * stride + 4 + x * 3)],
  }
}

/** How many pixels, on a grid over the screen, are the page's own colour. */
function pagePixels(png: Buffer): number {
  const img = rgb(png)
  let n = 0
  for (let y = 0; y < img.height; y += 8)
    for (let x = 0; x < img.width; x += 8) {
      const [r, g, b] = img.at(x, y) as [number, number, number]
      if (r > 200 && g < 60 && b > 200) n++
    }
  return n
}

/**
 * The agent's browser in a real gateway: a page served inside the instance is opened by the
 * `browser` tool in a turn the scripted model drives, in a headful Chromium on the instance's
 * desktop, which the desktop's screenshot then shows.
 */
describe('the browser tool on the instance’s desktop', () => {
  let t: InProcess
  let model: ModelServer
  let key: string
  let user: UserRow
  let id: string

  const exec = async (command: string) =>
    (await t.inject('POST', `/api/instances/${id}/terminal/exec`, key, { command, timeout_ms: 20_000 })).body
  const screenshot = async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/instances/${id}/desktop/screenshot`,
      headers: { authorization: `Bearer ${key}` },
    })
    expect(res.statusCode).toBe(200)
    return res.rawPayload
  }

  beforeAll(async () => {
    buildOnce()
    model = await startModelServer()
    t = await inProcess(
      gatewayEnv(model.baseUrl, 'sk-upstream-browser-3Jx', {
        CLAWPORT_DESKTOP_GEOMETRY: `${WIDTH}x${HEIGHT}`,
      }),
    )
    key = await t.user('browser@example.com', 'agent')
    user = (await t.services.store.users.byEmail('browser@example.com')) as UserRow
    id = (await t.services.instances.create(user, {})).id
    for (;;) {
      const inst = await t.services.instances.get(asUser(user.id), id)
      if (inst.status === 'ready') break
      if (inst.status === 'error') throw new Error(`instance failed: ${inst.error}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }, 600_000)

  afterAll(async () => {
    if (t && id) await t.services.instances.remove(asUser(user.id), id).catch(() => {})
    await t?.close()
    await model?.close()
  })

  it('opens a page served inside the instance in a Chromium window the desktop shows', async () => {
    const empty = await screenshot()
    expect(rgb(empty)).toMatchObject({ width: WIDTH, height: HEIGHT })
    expect(pagePixels(empty)).toBe(0)

    // A magenta page, served on the instance's own loopback, outliving the command.
    await exec(
      `mkdir -p site && printf '<html><head><title>Clawport page</title></head><body style="background:#ff00ff;margin:0"><h1>served inside</h1></body></html>' > site/index.html && (setsid python3 -m http.server ${PORT} --bind 127.0.0.1 --directory site >/dev/null 2>&1 &) && sleep 1`,
    )
    expect(
      (
        await exec(
          `python3 -c "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:${PORT}/').status)"`,
        )
      ).stdout,
    ).toBe('200\n')

    const started = Date.now()
    const events: TurnEvent[] = []
    for await (const e of t.services.agent.runTurn({
      instanceId: id,
      sessionKey: 'browser',
      message: `call: browser ${JSON.stringify({ action: 'open', targetUrl: `http://127.0.0.1:${PORT}/` })}`,
      signal: new AbortController().signal,
    }))
      events.push(e)
    console.log(`first browser turn: ${Date.now() - started} ms`)
    const tools = toolEvents(events, 'browser')
    expect(tools.at(-1)).toMatchObject({ status: 'completed' })
    expect(String(tools.at(-1)?.result)).toContain(`127.0.0.1:${PORT}`)
    expect(events.at(-1)).toMatchObject({ type: 'done' })

    // Chromium runs on the instance's own display, headful, and its window is mapped there.
    const ps = await exec('ps -eo args')
    expect(ps.stdout).toMatch(/\/usr\/lib\/chromium\/chromium /)
    expect(ps.stdout).not.toMatch(/chromium .*--headless/)
    // xwininfo (x11-utils) is not among setup.sh's packages: the window list is checked where it is.
    const windows = await exec(
      'command -v xwininfo >/dev/null && DISPLAY=:1 xwininfo -root -tree || echo absent',
    )
    if (windows.stdout !== 'absent\n') expect(windows.stdout).toMatch(/Clawport page|Chromium/)

    // The screenshot shows the page: a large area in its colour, where the empty desktop had none.
    const deadline = Date.now() + 20_000
    let shown = pagePixels(await screenshot())
    while (shown < 1000 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500))
      shown = pagePixels(await screenshot())
    }
    console.log(`page pixels on the desktop: ${shown} of ${(WIDTH / 8) * (HEIGHT / 8)} sampled`)
    expect(shown).toBeGreaterThan(1000)
    const rss = await exec(`ps -eo rss=,args= | awk '/chromium/ {s+=$1} END {print s}'`)
    console.log(`chromium RSS (sum of its processes): ${Math.round(Number(rss.stdout) / 1024)} MiB`)
  }, 600_000)
})
