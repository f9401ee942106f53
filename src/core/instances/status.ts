import type { InstanceDriver } from '../../drivers/driver.js'
import { AppError } from '../../errors.js'
import type { InstanceRow } from '../../store/index.js'
import type { GatewayState } from '../../wire/gateway.js'
import type { InstanceGateway } from '../instance-gateway.js'
import type { InstanceStatus, InstanceStatusDetail } from '../instance-types.js'
import type { ClawletClients } from './clients.js'

/** Each part's readiness of one instance, looked at now. */
export async function statusDetail(
  row: InstanceRow,
  driver: InstanceDriver,
  clients: ClawletClients,
  gateway: InstanceGateway | undefined,
): Promise<InstanceStatusDetail> {
  const sandbox = await driver.inspect(row.id)
  let clawlet: InstanceStatusDetail['clawlet'] = { ok: false }
  let gatewayState: GatewayState | undefined
  let desktop: InstanceStatusDetail['desktop'] = {
    status: 'unknown',
    detail: 'the instance is not running',
  }
  if (sandbox.running) {
    const t = performance.now()
    try {
      const health = await clients.get(row.id).health()
      gatewayState = health.gateway
      desktop = health.desktop ?? { status: 'not_installed', detail: 'this instance runs no desktop' }
      clawlet = { ok: true, latency_ms: Math.round((performance.now() - t) * 100) / 100 }
    } catch (err) {
      clawlet = { ok: false, error: err instanceof AppError ? err.message : 'unreachable' }
    }
  }
  const startedAt = row.status === 'ready' && row.started_at ? Date.parse(row.started_at) : null
  return {
    id: row.id,
    status: row.status as InstanceStatus,
    ready: row.status === 'ready' && clawlet.ok,
    uptime_ms: startedAt === null ? null : Date.now() - startedAt,
    // The driver's camelCase state, in the API's snake_case (a reboot's page tells the old
    // sandbox from the new one by when it started).
    sandbox: {
      running: sandbox.running,
      ...(sandbox.pid !== undefined ? { pid: sandbox.pid } : {}),
      ...(sandbox.startedAt !== undefined ? { started_at: sandbox.startedAt } : {}),
      ...(sandbox.reason !== undefined ? { reason: sandbox.reason } : {}),
    },
    clawlet,
    gateway: gateway?.readiness(gatewayState) ?? {
      status: 'not_installed',
      detail: 'this instance runs no OpenClaw gateway',
    },
    desktop,
    error: row.error,
  }
}
