import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

/** Encrypts small secrets (users' provider keys) with AES-256-GCM and a key file in the data folder. */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** Opens `<dataDir>/secret.key` (0600), creating it on first use. */
  static open(dataDir: string): SecretBox {
    const file = path.join(dataDir, 'secret.key')
    let key: Buffer
    try {
      key = fs.readFileSync(file)
    } catch {
      fs.mkdirSync(dataDir, { recursive: true })
      key = randomBytes(32)
      // wx: two processes starting at once must not overwrite each other's key.
      try {
        fs.writeFileSync(file, key, { mode: 0o600, flag: 'wx' })
      } catch {
        key = fs.readFileSync(file)
      }
    }
    if (key.length !== 32) throw new Error(`${file} must hold exactly 32 bytes`)
    fs.chmodSync(file, 0o600)
    return new SecretBox(key)
  }

  /** `v1.<iv>.<tag>.<ciphertext>`, base64url parts. */
  seal(plain: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.key, iv)
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
    return ['v1', iv, cipher.getAuthTag(), data]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.')
  }

  open(sealed: string): string {
    const [version, iv, tag, data] = sealed.split('.')
    if (version !== 'v1' || !iv || !tag || data === undefined) throw new Error('unknown sealed secret format')
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'))
    decipher.setAuthTag(Buffer.from(tag, 'base64url'))
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8')
  }
}
