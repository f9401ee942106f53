import type { InstanceSpec } from '../../drivers/driver.js'
import type { InstanceRow } from '../../store/index.js'
import type { Instance, InstanceStatus } from '../instance-types.js'

/** The public instance object of a stored row. */
export function toPublic(row: InstanceRow): Instance {
  return {
    id: row.id,
    status: row.status as InstanceStatus,
    sandbox_id: `sbx_${row.id.replaceAll('-', '').slice(0, 16)}`,
    created_at: row.created_at,
    updated_at: row.updated_at,
    name: row.name,
    resources: row.resources,
    network: row.network,
    allowed_hosts: row.allowed_hosts,
    started_at: row.started_at,
    error: row.error,
  }
}

/** What the driver is told of a stored instance. */
export function specOf(row: InstanceRow): InstanceSpec {
  return {
    id: row.id,
    hostUid: row.host_uid,
    resources: row.resources,
    network: row.network,
    allowedHosts: row.allowed_hosts,
  }
}
