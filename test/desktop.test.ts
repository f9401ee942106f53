import { crc32, inflateSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type WebSocket from 'ws'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'
import { FrameReader, mustOpen, mustRefuse } from './helpers/ws.js'

const WIDTH = 1024
const HEIGHT = 640

/** Checks a PNG's structure and every chunk's CRC; returns its size and inflated image data. */
function parsePng(png: Buffer): { width: number; height: number; colorType: number; raw: Buffer } {
  expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a')
  let off = 8
  const idat: Buffer[] = []
  let ihdr: Buffer | undefined
  for (;;) {
    const len = png.readUInt32BE(off)
    const type = png.subarray(off + 4, off + 8).toString('latin1')
    const data = png.subarray(off + 8, off + 8 + len)
    expect(png.readUInt32BE(off + 8 + len)).toBe(crc32(data, crc32(png.subarray(off + 4, off + 8))))
    if (type === 'IHDR') ihdr = data
    if (type === 'IDAT') idat.push(data)
    off += 12 + len
    if (type === 'IEND') break
  }
  expect(off).toBe(png.length)
  const h = ihdr as Buffer
  return {
    width: h.readUInt32BE(0),
    height: h.readUInt32BE(4),
    colorType: h[9] as number,
    raw: inflateSync(Buffer.concat(idat)),
  }
}

describe('the desktop on a real server with real sandboxes', () => {
  let s: TestServer
  let id: string
  let vncUrl: string
  const auth = () => ({ authorization: `Bearer ${s.adminKey}` })

  const desktopReady = async (atLeastRestarts = 0) => {
    let d: any
    return waitFor(
      () => `the desktop to be ready, now ${JSON.stringify(d)}`,
      async () => {
        d = (await s.api('GET', `/api/instances/${id}/status`)).body.desktop
        return d.status === 'ready' && d.restarts >= atLeastRestarts && d
      },
      { timeoutMs: 20_000, intervalMs: 50 },
    )
  }

  beforeAll(async () => {
    s = await startServer({
      ...TEST_ENV,
      CLAWPORT_GATEWAY: 'off',
      CLAWPORT_DESKTOP_GEOMETRY: `${WIDTH}x${HEIGHT}`,
    })
    id = (await s.readyInstance()).id
    vncUrl = `${s.url.replace(/^http/, 'ws')}/api/instances/${id}/vnc/ws`
  })
  afterAll(() => s?.destroy())

  it('reports the desktop ready, with its size, in the instance status', async () => {
    const d = await desktopReady()
    expect(d).toMatchObject({ status: 'ready', width: WIDTH, height: HEIGHT })
    expect(d.ready_ms).toBeGreaterThan(0)
    const ps = await s.exec(id, 'ps -eo args')
    expect(ps.stdout).toMatch(/Xtigervnc :1 -rfbport -1 -rfbunixpath \/run\/clawport\/vnc.sock/)
    expect(ps.stdout).toMatch(/^openbox/m)
    // No VNC (59xx) or X (60xx) TCP listener: the desktop is reachable only through its Unix socket.
    const tcp = await s.exec(id, 'cat /proc/net/tcp /proc/net/tcp6')
    const listening = tcp.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[3] === '0A')
      .map((f) => Number.parseInt((f[1] as string).split(':')[1] as string, 16))
    expect(listening.filter((port) => port >= 5900 && port < 6100)).toEqual([])
  })

  it('speaks RFB through /vnc/ws: handshake, ServerInit with the configured size, a framebuffer update', async () => {
    const holder: { r?: FrameReader } = {}
    const ws: WebSocket = await mustOpen(vncUrl, auth(), (sock) => {
      holder.r = new FrameReader(sock)
    })
    const r = holder.r as FrameReader
    const binary: boolean[] = []
    ws.on('message', (_d, isBinary) => binary.push(isBinary))
    const send = (b: Buffer | string) => ws.send(Buffer.from(b), { binary: true })

    expect((await r.read(12)).toString('latin1')).toBe('RFB 003.008\n')
    send('RFB 003.008\n')
    const n = (await r.read(1))[0] as number
    expect([...(await r.read(n))]).toContain(1) // security type None
    send(Buffer.from([1]))
    expect((await r.read(4)).readUInt32BE(0)).toBe(0) // SecurityResult OK
    send(Buffer.from([1])) // ClientInit, shared
    const init = await r.read(24)
    expect(init.readUInt16BE(0)).toBe(WIDTH)
    expect(init.readUInt16BE(2)).toBe(HEIGHT)
    expect(init[4]).toBe(32) // bits per pixel
    await r.read(init.readUInt32BE(20)) // the desktop's name

    const req = Buffer.alloc(10)
    req[0] = 3 // FramebufferUpdateRequest, not incremental, the whole screen
    req.writeUInt16BE(WIDTH, 6)
    req.writeUInt16BE(HEIGHT, 8)
    send(req)
    let type = (await r.read(1))[0]
    while (type === 2) type = (await r.read(1))[0] // skip a Bell
    expect(type).toBe(0) // FramebufferUpdate
    const rects = (await r.read(3)).readUInt16BE(1)
    expect(rects).toBeGreaterThan(0)
    const first = await r.read(12)
    expect(first.readUInt16BE(4)).toBeGreaterThan(0)
    expect(binary.every(Boolean)).toBe(true)
    ws.close()
  })

  it('takes a screenshot that is a valid PNG of the desktop’s size', async () => {
    const res = await fetch(`${s.url}/api/instances/${id}/desktop/screenshot`, { headers: auth() })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('image/png')
    const png = parsePng(Buffer.from(await res.arrayBuffer()))
    expect(png).toMatchObject({ width: WIDTH, height: HEIGHT, colorType: 2 })
    expect(png.raw.length).toBe((WIDTH * 3 + 1) * HEIGHT)
  })

  it('restarts the desktop when its server dies', async () => {
    await s.exec(id, 'kill -9 $(pidof Xtigervnc)')
    const d = await desktopReady(1)
    expect(d.restarts).toBeGreaterThanOrEqual(1)
    const res = await fetch(`${s.url}/api/instances/${id}/desktop/screenshot`, { headers: auth() })
    expect(parsePng(Buffer.from(await res.arrayBuffer())).width).toBe(WIDTH)
  })

  it('refuses a socket without a key, or on another user’s instance, before the upgrade', async () => {
    expect(await mustRefuse(vncUrl)).toMatchObject({ status: 401, body: { code: 'unauthorized' } })
    const other = await s.user('eve@example.com', 'pro')
    const foreign = await mustRefuse(vncUrl, { authorization: `Bearer ${other}` })
    expect(foreign).toMatchObject({ status: 404, body: { code: 'instance_not_found' } })
    const shot = await s.api('GET', `/api/instances/${id}/desktop/screenshot`, { key: other })
    expect(shot.status).toBe(404)
    const ticket = (await s.api('POST', `/api/instances/${id}/ws-ticket`)).body.ticket
    const ws = await mustOpen(`${vncUrl}?ticket=${ticket}`)
    ws.close()
    expect(await mustRefuse(`${vncUrl}?ticket=${ticket}`)).toMatchObject({ status: 401 })
  })
})
