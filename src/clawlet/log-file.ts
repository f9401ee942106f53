import { closeSync, fstatSync, openSync, renameSync, writeSync } from 'node:fs'

/** Past this size a log file is moved to `<name>.1` (the one before is dropped) and starts over. */
export const LOG_FILE_MAX_BYTES = 4 * 1024 * 1024

/**
 * An append-only log file on the instance's own disk, for the host to serve (GET .../logs).
 * It holds at most twice its cap (the file and one rotated copy), and a write that fails (a
 * full disk) is dropped: a log must never stop the clawlet.
 */
export class RotatingLogFile {
  private fd: number | null = null
  private size = 0

  constructor(
    readonly file: string,
    private readonly maxBytes = LOG_FILE_MAX_BYTES,
  ) {}

  write(line: string): void {
    const text = line.endsWith('\n') ? line : `${line}\n`
    try {
      if (this.fd === null) this.open()
      if (this.size + Buffer.byteLength(text) > this.maxBytes) this.rotate()
      this.size += writeSync(this.fd as number, text)
    } catch {
      this.close()
    }
  }

  private open(): void {
    this.fd = openSync(this.file, 'a', 0o600)
    this.size = fstatSync(this.fd).size
  }

  private rotate(): void {
    this.close()
    renameSync(this.file, `${this.file}.1`)
    this.open()
  }

  close(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd)
      } catch {}
    }
    this.fd = null
  }
}
