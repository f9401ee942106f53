import { connect, type Socket } from 'node:net'

/** A whole-screen capture: `pixels` holds width*height*4 bytes, R G B X per pixel. */
export interface Framebuffer {
  width: number
  height: number
  pixels: Buffer
}

/** Reads exact byte counts from a socket. */
class Reader {
  private chunks: Buffer[] = []
  private size = 0
  private wake?: () => void
  private failure?: Error

  constructor(socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c)
      this.size += c.length
      this.wake?.()
    })
    const fail = (err: Error) => {
      this.failure ??= err
      this.wake?.()
    }
    socket.on('error', fail)
    socket.on('close', () => fail(new Error('the VNC server closed the connection')))
  }

  async read(n: number): Promise<Buffer> {
    while (this.size < n) {
      if (this.failure) throw this.failure
      await new Promise<void>((resolve) => {
        this.wake = resolve
      })
      this.wake = undefined
    }
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.size)
    const out = all.subarray(0, n)
    const rest = all.subarray(n)
    this.chunks = rest.length ? [rest] : []
    this.size = rest.length
    return out
  }
}

/** 32 bits per pixel, depth 24, little endian, true colour with R at bit 0: bytes R G B X. */
const PIXEL_FORMAT = Buffer.from([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 0, 8, 16, 0, 0, 0])

/**
 * Connects to an RFB server on a Unix socket (security type None), asks for one full,
 * raw-encoded framebuffer update and returns the pixels.
 */
export async function captureFramebuffer(socketPath: string, timeoutMs = 10_000): Promise<Framebuffer> {
  const socket = connect(socketPath)
  socket.setTimeout(timeoutMs, () =>
    socket.destroy(new Error(`the VNC server did not answer within ${timeoutMs} ms`)),
  )
  const r = new Reader(socket)
  try {
    const version = (await r.read(12)).toString('latin1')
    if (!version.startsWith('RFB 003.')) throw new Error(`not an RFB server: ${JSON.stringify(version)}`)
    socket.write('RFB 003.008\n')
    const types = await r.read((await r.read(1)).readUInt8(0))
    if (!types.includes(1)) throw new Error('the VNC server does not offer security type None')
    socket.write(Buffer.from([1]))
    if ((await r.read(4)).readUInt32BE(0) !== 0) throw new Error('the VNC server refused the connection')
    socket.write(Buffer.from([1])) // ClientInit: shared, so no viewer is disconnected
    const init = await r.read(24)
    const width = init.readUInt16BE(0)
    const height = init.readUInt16BE(2)
    await r.read(init.readUInt32BE(20)) // the desktop's name
    const setFormat = Buffer.concat([Buffer.from([0, 0, 0, 0]), PIXEL_FORMAT])
    const setEncodings = Buffer.from([2, 0, 0, 1, 0, 0, 0, 0]) // Raw only
    const request = Buffer.alloc(10)
    request.writeUInt8(3, 0)
    request.writeUInt8(0, 1) // not incremental: the whole screen
    request.writeUInt16BE(width, 6)
    request.writeUInt16BE(height, 8)
    socket.write(Buffer.concat([setFormat, setEncodings, request]))

    const pixels = Buffer.alloc(width * height * 4)
    for (;;) {
      const type = (await r.read(1)).readUInt8(0)
      if (type === 0) {
        const rects = (await r.read(3)).readUInt16BE(1)
        for (let i = 0; i < rects; i++) {
          const h = await r.read(12)
          const [x, y, w, rh, enc] = [
            h.readUInt16BE(0),
            h.readUInt16BE(2),
            h.readUInt16BE(4),
            h.readUInt16BE(6),
            h.readInt32BE(8),
          ]
          if (enc !== 0) throw new Error(`unexpected RFB encoding ${enc}`)
          const data = await r.read(w * rh * 4)
          for (let row = 0; row < rh; row++) {
            if (y + row >= height || x >= width) continue
            const len = Math.min(w, width - x) * 4
            data.copy(pixels, ((y + row) * width + x) * 4, row * w * 4, row * w * 4 + len)
          }
        }
        return { width, height, pixels }
      }
      if (type === 1) {
        const head = await r.read(5)
        await r.read(head.readUInt16BE(3) * 6)
      } else if (type === 3) {
        await r.read((await r.read(7)).readUInt32BE(3))
      } else if (type !== 2) {
        throw new Error(`unexpected RFB message ${type}`)
      }
    }
  } finally {
    socket.destroy()
  }
}
