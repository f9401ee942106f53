import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { ConfigError, SECRET_KEY_REQUIRED, type StoreConfig } from '../config.js'

/**
 * Encrypts small secrets (users' provider keys, channel tokens, webhook secrets) with
 * AES-256-GCM, under CLAWPORT_SECRET_KEY or else a key file in the data folder.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /**
   * The box every service of this process shares: CLAWPORT_SECRET_KEY when set (required with
   * PostgreSQL, which loadConfig checks: replicas must all seal with one key), else the data
   * folder's key file.
   */
  static forConfig(config: { dataDir: string; store: Pick<StoreConfig, 'kind' | 'secretKey'> }): SecretBox {
    const { kind, secretKey } = config.store
    if (!secretKey) {
      if (kind === 'postgres') throw new ConfigError(SECRET_KEY_REQUIRED)
      return SecretBox.open(config.dataDir)
    }
    const key = Buffer.from(secretKey, 'base64')
    if (key.length !== 32) throw new ConfigError('CLAWPORT_SECRET_KEY must be 32 bytes in base64')
    // A key file that sealed this server's secrets so far, and a different key now, would
    // leave every stored secret unreadable.
    const file = path.join(config.dataDir, 'secret.key')
    if (kind === 'sqlite' && fs.existsSync(file) && !fs.readFileSync(file).equals(key)) {
      throw new ConfigError(
        `CLAWPORT_SECRET_KEY differs from ${file}, which sealed the secrets stored so far: set it to that file's key (base64 -w0 ${file}) or unset it`,
      )
    }
    return new SecretBox(key)
  }

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
