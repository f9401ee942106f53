import type { UserRow } from '../store/index.js'

/** Who is calling, as established by authentication. */
export interface Caller {
  user: UserRow
  keyId: string
  /** Set when the call came through an instance's own door: it acts for its owner, narrowly. */
  instanceId?: string
}
