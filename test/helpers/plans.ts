/**
 * Small plans so tests run many instances on a 2-core machine and hit limits quickly. Their
 * instances have no network (tests never reach beyond this machine), but for `net`'s, which
 * tests of the network mode itself use.
 */
export const TEST_PLANS = JSON.stringify([
  { name: 'free', instance_limit: 0, network: 'off' },
  { name: 'pro', instance_limit: 3, memory_mb: 512, cpus: 1, pids_max: 256, disk_mb: 512, network: 'off' },
  { name: 'solo', instance_limit: 1, memory_mb: 512, cpus: 1, pids_max: 256, disk_mb: 128, network: 'off' },
  { name: 'tiny', instance_limit: 2, memory_mb: 160, cpus: 0.5, pids_max: 64, disk_mb: 64, network: 'off' },
  { name: 'team', instance_limit: 10, memory_mb: 512, cpus: 1, pids_max: 256, disk_mb: 512, network: 'off' },
  { name: 'net', instance_limit: 3, memory_mb: 512, cpus: 1, pids_max: 256, disk_mb: 256, network: 'public' },
  {
    name: 'allow',
    instance_limit: 3,
    memory_mb: 512,
    cpus: 1,
    pids_max: 256,
    disk_mb: 256,
    network: 'allowlist',
    allowed_hosts: ['pkg.test'],
  },
])

/** The fast tests run instances without the OpenClaw gateway (it takes seconds and ~0.7 GB). */
export const TEST_ENV: Record<string, string> = {
  CLAWPORT_PLANS: TEST_PLANS,
  CLAWPORT_TMP_SIZE_MB: '64',
  CLAWPORT_GATEWAY: 'off',
  // The host uids of this test lane (vitest.config.ts), so lanes side by side never share one.
  ...(process.env.CLAWPORT_UID_BASE ? { CLAWPORT_UID_BASE: process.env.CLAWPORT_UID_BASE } : {}),
}

/** A plan that fits a real OpenClaw gateway (~0.7 GB idle, more during turns). */
export const GATEWAY_PLANS = JSON.stringify([
  { name: 'free', instance_limit: 0, network: 'off' },
  {
    name: 'agent',
    instance_limit: 3,
    memory_mb: 2048,
    cpus: 2,
    pids_max: 1024,
    disk_mb: 1024,
    network: 'off',
  },
])

/** A server whose instances run the real OpenClaw gateway against the test model server. */
export function gatewayEnv(
  modelBaseUrl: string,
  upstreamKey: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    CLAWPORT_PLANS: GATEWAY_PLANS,
    CLAWPORT_TMP_SIZE_MB: '128',
    CLAWPORT_GATEWAY: 'on',
    CLAWPORT_LLM_BASE_URL: modelBaseUrl,
    CLAWPORT_LLM_API_KEY: upstreamKey,
    CLAWPORT_LLM_MODEL: 'test-model',
    ...extra,
  }
}

/** A gateway plan whose instances go to sleep after 9 s unused (idle_sleep_minutes may be a fraction). */
export const SLEEP_PLANS = JSON.stringify([
  { name: 'free', instance_limit: 0, network: 'off' },
  {
    name: 'nap',
    instance_limit: 1,
    memory_mb: 2048,
    cpus: 2,
    pids_max: 1024,
    disk_mb: 1024,
    network: 'off',
    idle_sleep_minutes: 0.15,
  },
])
