import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A runner endpoint's TLS identity: its key and self-signed certificate, and the certificate's fingerprint. */
export interface RunnerIdentity {
  key: string
  cert: string
  fingerprint: string
}

/**
 * The runner's TLS key and certificate in `dir`, made once with openssl (P-256, ten years) and
 * kept: replicas pin the certificate the runner registered, so it must not change with restarts.
 */
export async function runnerIdentity(dir: string, name: string): Promise<RunnerIdentity> {
  const keyPath = path.join(dir, 'tls.key')
  const certPath = path.join(dir, 'tls.crt')
  await fs.mkdir(dir, { recursive: true, mode: 0o700 })
  if (!existsSync(keyPath) || !existsSync(certPath)) {
    const tmpKey = `${keyPath}.new`
    const tmpCert = `${certPath}.new`
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '3650',
        '-subj',
        `/CN=clawport-runner ${name.replace(/[/=+,]/g, '-')}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-keyout',
        tmpKey,
        '-out',
        tmpCert,
      ],
      { timeout: 30_000 },
    ).catch((err: unknown) => {
      throw new Error(
        `cannot make the runner's TLS certificate with openssl (apt-get install openssl): ${err instanceof Error ? err.message : String(err)}`,
      )
    })
    await fs.chmod(tmpKey, 0o600)
    await fs.rename(tmpKey, keyPath)
    await fs.rename(tmpCert, certPath)
  }
  const [key, cert] = await Promise.all([fs.readFile(keyPath, 'utf8'), fs.readFile(certPath, 'utf8')])
  return { key, cert, fingerprint: new X509Certificate(cert).fingerprint256 }
}
