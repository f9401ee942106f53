import { promisify } from 'node:util'
import { crc32, deflate } from 'node:zlib'
import type { Framebuffer } from './rfb.js'

const deflateP = promisify(deflate)
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, 'latin1')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))), 0)
  return Buffer.concat([head, data, crc])
}

/** Encodes an R G B X framebuffer as an 8-bit RGB PNG (filter "Sub" on every row). */
export async function encodePng(fb: Framebuffer): Promise<Buffer> {
  const { width, height, pixels } = fb
  const stride = width * 3 + 1
  const raw = Buffer.alloc(stride * height)
  for (let y = 0; y < height; y++) {
    const out = y * stride
    raw[out] = 1 // Sub: each byte minus the same channel of the pixel to its left
    let src = y * width * 4
    let pr = 0
    let pg = 0
    let pb = 0
    for (let x = 0; x < width; x++, src += 4) {
      const o = out + 1 + x * 3
      const r = pixels[src] as number
      const g = pixels[src + 1] as number
      const b = pixels[src + 2] as number
      raw[o] = (r - pr) & 0xff
      raw[o + 1] = (g - pg) & 0xff
      raw[o + 2] = (b - pb) & 0xff
      pr = r
      pg = g
      pb = b
    }
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 2, 0, 0, 0], 8) // 8 bits, colour type RGB, deflate, no filter set, no interlace
  const idat = await deflateP(raw, { level: 6 })
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))])
}
