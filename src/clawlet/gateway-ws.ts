import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomUUID,
  sign,
} from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { sha256 } from '../lib/hash.js'

/**
 * A minimal client of the OpenClaw gateway's WebSocket protocol (v4): answer the challenge
 * with the token and a signed Ed25519 device identity, then requests and events. Loopback
 * device identities are approved by the gateway itself.
 */

const PROTOCOL = 4
const CLIENT = { id: 'gateway-client', version: '1.0.0', platform: 'linux', mode: 'backend' } as const
const SCOPES = ['operator.read', 'operator.write', 'operator.admin']
const CONNECT_TIMEOUT_MS = 15_000

export interface GatewayEvent {
  event: string
  payload: any
}

interface Identity {
  deviceId: string
  publicKeyRaw: string
  privateKey: KeyObject
}

let cachedIdentity: Identity | undefined

/** The clawlet's device identity, kept in the gateway's state folder so it is paired once. */
export function deviceIdentity(file: string): Identity {
  if (cachedIdentity) return cachedIdentity
  let pem: string | undefined
  try {
    pem = (JSON.parse(readFileSync(file, 'utf8')) as { privateKeyPem?: string }).privateKeyPem
  } catch {
    // First use: generated below.
  }
  const privateKey = pem ? createPrivateKey(pem) : generateKeyPairSync('ed25519').privateKey
  if (!pem) {
    const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
    writeFileSync(file, JSON.stringify({ privateKeyPem }), { mode: 0o600 })
  }
  // The last 32 bytes of an Ed25519 SPKI DER are the raw public key.
  const raw = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).subarray(-32)
  cachedIdentity = {
    deviceId: sha256(raw, 'hex'),
    publicKeyRaw: raw.toString('base64url'),
    privateKey,
  }
  return cachedIdentity
}

/** One authenticated WebSocket connection to the gateway. */
export class GatewayConnection {
  private ws!: WebSocket
  private seq = 0
  private readonly pending = new Map<string, { resolve: (v: any) => void; reject: (e: Error) => void }>()
  private readonly listeners = new Set<(e: GatewayEvent) => void>()
  private closedError?: Error
  private readonly closeListeners = new Set<(err: Error) => void>()

  private constructor() {}

  /** Connects and completes the handshake; rejects with the gateway's reason. */
  static async open(url: string, token: string, identity: Identity): Promise<GatewayConnection> {
    const c = new GatewayConnection()
    await c.connect(url, token, identity)
    return c
  }

  private connect(url: string, token: string, id: Identity): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
      this.ws = ws
      const timer = setTimeout(() => {
        reject(new Error('the gateway did not complete the handshake in time'))
        ws.close()
      }, CONNECT_TIMEOUT_MS)
      let hello = false
      ws.onmessage = (e) => {
        let f: any
        try {
          f = JSON.parse(String(e.data))
        } catch {
          return
        }
        if (!hello && f.type === 'event' && f.event === 'connect.challenge') {
          const signedAt = f.payload.ts as number
          const nonce = f.payload.nonce as string
          const payload = [
            'v3',
            id.deviceId,
            CLIENT.id,
            CLIENT.mode,
            'operator',
            SCOPES.join(','),
            String(signedAt),
            token,
            nonce,
            CLIENT.platform,
            '',
          ].join('|')
          const signature = sign(null, Buffer.from(payload), id.privateKey).toString('base64url')
          this.request('connect', {
            minProtocol: PROTOCOL,
            maxProtocol: PROTOCOL,
            client: CLIENT,
            role: 'operator',
            scopes: SCOPES,
            caps: ['tool-events'],
            auth: { token },
            device: { id: id.deviceId, publicKey: id.publicKeyRaw, signature, signedAt, nonce },
          }).then(
            () => {
              hello = true
              clearTimeout(timer)
              resolve()
            },
            (err: Error) => {
              clearTimeout(timer)
              reject(err)
              ws.close()
            },
          )
          return
        }
        if (f.type === 'res') {
          const p = this.pending.get(f.id)
          if (!p) return
          this.pending.delete(f.id)
          if (f.ok) p.resolve(f.payload)
          else p.reject(new Error(f.error?.message ?? 'gateway request failed'))
        } else if (f.type === 'event') {
          for (const l of this.listeners) l({ event: f.event, payload: f.payload })
        }
      }
      ws.onclose = (e) => {
        clearTimeout(timer)
        const err = new Error(`the gateway connection closed (${e.code}${e.reason ? `: ${e.reason}` : ''})`)
        this.closedError = err
        if (!hello) reject(err)
        for (const p of this.pending.values()) p.reject(err)
        this.pending.clear()
        for (const l of this.closeListeners) l(err)
      }
      ws.onerror = () => {
        // onclose follows with the reason.
      }
    })
  }

  /** Sends a request and resolves with its answer's payload. */
  request(method: string, params: unknown): Promise<any> {
    if (this.closedError) return Promise.reject(this.closedError)
    const id = `r${++this.seq}`
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.ws.send(JSON.stringify({ type: 'req', id, method, params }))
    })
  }

  onEvent(fn: (e: GatewayEvent) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  onClose(fn: (err: Error) => void): void {
    this.closeListeners.add(fn)
  }

  close(): void {
    this.ws.close()
  }
}

/** A fresh idempotency key for chat.send. */
export const newIdempotencyKey = (): string => randomUUID()
