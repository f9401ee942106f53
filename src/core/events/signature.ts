import { createHmac, timingSafeEqual } from 'node:crypto'

/** The header of every webhook delivery: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export const SIGNATURE_HEADER = 'x-clawport-signature'

/**
 * The signature of one delivery: HMAC-SHA256, keyed with the webhook's secret, over
 * `<t>.<body>` (the timestamp, a dot, then the exact body bytes), in hex. Binding the time in
 * lets a receiver refuse an old delivery replayed to it.
 */
export function signPayload(secret: string, timestampS: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex')
}

/** The header value for a body signed at `timestampS`. */
export function signatureHeader(secret: string, timestampS: number, body: string): string {
  return `t=${timestampS},v1=${signPayload(secret, timestampS, body)}`
}

/**
 * What a receiver does: true when the header signs this exact body with this secret and its
 * time is within `toleranceS` of now.
 */
export function verifySignature(
  secret: string,
  header: string,
  body: string,
  toleranceS = 300,
  nowS = Math.floor(Date.now() / 1000),
): boolean {
  const parts = new Map(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]))
  const t = Number(parts.get('t'))
  const v1 = parts.get('v1') ?? ''
  if (!Number.isSafeInteger(t) || Math.abs(nowS - t) > toleranceS || !/^[0-9a-f]{64}$/.test(v1)) return false
  return timingSafeEqual(Buffer.from(v1, 'hex'), Buffer.from(signPayload(secret, t, body), 'hex'))
}
