/** A one-line progress bar on stderr, drawn only when stderr is a terminal. */
export class Progress {
  private doneBytes = 0
  private doneFiles = 0
  private lastDraw = 0
  private readonly enabled: boolean

  constructor(
    private readonly totalBytes: number,
    private readonly totalFiles: number,
    enabled = Boolean(process.stderr.isTTY),
  ) {
    this.enabled = enabled
  }

  bytes(n: number): void {
    this.doneBytes += n
    this.draw(false)
  }

  file(): void {
    this.doneFiles += 1
    this.draw(false)
  }

  finish(): void {
    this.draw(true)
    if (this.enabled) process.stderr.write('\n')
  }

  private draw(force: boolean): void {
    if (!this.enabled) return
    const now = Date.now()
    if (!force && now - this.lastDraw < 100) return
    this.lastDraw = now
    const ratio = this.totalBytes ? Math.min(1, this.doneBytes / this.totalBytes) : 1
    const width = 30
    const filled = Math.round(ratio * width)
    const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`
    process.stderr.write(
      `\r[${bar}] ${String(Math.round(ratio * 100)).padStart(3)}%  ${this.doneFiles}/${this.totalFiles} files  ${mb(this.doneBytes)}/${mb(this.totalBytes)}`,
    )
  }
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`
