import WebSocket from 'ws'

/** The HTTP answer of a refused upgrade. */
export interface Refusal {
  status: number
  body: any
}

/**
 * Opens a WebSocket; resolves with it once open, or with the refusal's status and JSON body.
 * `setup` attaches listeners at once: frames that come with the 101 answer are emitted before
 * a caller awaiting the open could attach its own.
 */
export function openWs(
  url: string,
  headers: Record<string, string> = {},
  setup?: (ws: WebSocket) => void,
): Promise<WebSocket | Refusal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    setup?.(ws)
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) => {
      let text = ''
      res.on('data', (c: Buffer) => {
        text += c.toString()
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }))
    })
    ws.once('error', reject)
  })
}

export async function mustOpen(
  url: string,
  headers: Record<string, string> = {},
  setup?: (ws: WebSocket) => void,
): Promise<WebSocket> {
  const res = await openWs(url, headers, setup)
  if (!(res instanceof WebSocket)) throw new Error(`refused: ${res.status} ${JSON.stringify(res.body)}`)
  return res
}

export async function mustRefuse(url: string, headers: Record<string, string> = {}): Promise<Refusal> {
  const res = await openWs(url, headers)
  if (res instanceof WebSocket) {
    res.terminate()
    throw new Error('the upgrade was accepted')
  }
  return res
}

/** A terminal socket: collects output bytes and control messages. */
export class Term {
  output = ''
  readonly controls: any[] = []
  closed?: { code: number; reason: string }
  readonly ws: WebSocket
  private waiters = new Set<() => void>()

  // Plain fields (no parameter properties) so bench scripts can run this file with Node's type stripping.
  constructor(ws: WebSocket) {
    this.ws = ws
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) this.output += data.toString('utf8')
      else this.controls.push(JSON.parse(data.toString('utf8')))
      this.wake()
    })
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() }
      this.wake()
    })
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<Term> {
    const made: { term?: Term } = {}
    await mustOpen(url, headers, (ws) => {
      made.term = new Term(ws)
    })
    const t = made.term as Term
    await t.until(() => t.controls.find((c) => c.type === 'ready'), 'ready')
    return t
  }

  get sessionId(): string {
    return this.controls.find((c) => c.type === 'ready')?.session_id
  }

  type(text: string): void {
    this.ws.send(Buffer.from(text))
  }

  resize(cols: number, rows: number): void {
    this.ws.send(JSON.stringify({ type: 'resize', cols, rows }))
  }

  /** Waits until the output (since `from`) matches. */
  waitOutput(re: RegExp, from = 0, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return this.until(() => this.output.slice(from).match(re) ?? undefined, `output ${re}`, timeoutMs)
  }

  waitClose(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    return this.until(() => this.closed, 'close', timeoutMs)
  }

  until<T>(check: () => T | undefined | null, what: string, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const tick = () => {
        const v = check()
        if (v !== undefined && v !== null) {
          clearTimeout(timer)
          this.waiters.delete(tick)
          resolve(v)
        }
      }
      const timer = setTimeout(() => {
        this.waiters.delete(tick)
        reject(
          new Error(
            `timed out waiting for ${what}; output so far: ${JSON.stringify(this.output.slice(-500))}`,
          ),
        )
      }, timeoutMs)
      this.waiters.add(tick)
      tick()
    })
  }

  close(): Promise<unknown> {
    if (this.closed) return Promise.resolve()
    this.ws.close()
    return this.waitClose()
  }

  private wake(): void {
    for (const w of [...this.waiters]) w()
  }
}

/** Reads exact byte counts from the binary frames of a socket (an RFB stream). */
export class FrameReader {
  private buf = Buffer.alloc(0)
  private wake?: () => void

  constructor(ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.buf = Buffer.concat([this.buf, data])
      this.wake?.()
    })
  }

  async read(n: number, timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs
    while (this.buf.length < n) {
      if (Date.now() > deadline) throw new Error(`timed out reading ${n} bytes (have ${this.buf.length})`)
      await new Promise<void>((resolve) => {
        this.wake = resolve
        setTimeout(resolve, 50)
      })
    }
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    return out
  }
}
