import fs from 'node:fs'
import path from 'node:path'
import type { Config } from '../config.js'

/** The OpenClaw version scripts/setup.sh installs and instances are tested with. */
export const OPENCLAW_PINNED = '2026.9.6'

/** `clawport doctor`'s checks of the shared OpenClaw runtime and the model upstream. */
export function openclawChecks(
  config: Pick<Config, 'gateway' | 'driver' | 'broker'>,
): Array<{ level: 'ok' | 'warn' | 'fail'; what: string; fix?: string }> {
  const out: Array<{ level: 'ok' | 'warn' | 'fail'; what: string; fix?: string }> = []
  if (!config.gateway.enabled) {
    out.push({
      level: 'warn',
      what: 'OpenClaw gateway turned off (CLAWPORT_GATEWAY=off): instances have no agent',
    })
  } else {
    const pkg = path.join(config.driver.openclawDir, 'node_modules', 'openclaw', 'package.json')
    let version: string | undefined
    try {
      version = (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version?: string }).version
    } catch {}
    if (!version)
      out.push({
        level: 'fail',
        what: `OpenClaw runtime missing in ${config.driver.openclawDir}`,
        fix: 'run scripts/setup.sh (or set CLAWPORT_OPENCLAW_DIR)',
      })
    else if (version !== OPENCLAW_PINNED)
      out.push({
        level: 'warn',
        what: `OpenClaw ${version} in ${config.driver.openclawDir} (pinned: ${OPENCLAW_PINNED})`,
        fix: 'run scripts/setup.sh to install the pinned version',
      })
    else
      out.push({
        level: 'ok',
        what: `OpenClaw ${version} in ${config.driver.openclawDir}, mounted read-only in every instance`,
      })
  }
  const { baseUrl, model } = config.broker.llm
  out.push(
    baseUrl && model
      ? {
          level: 'ok',
          what: `model upstream ${new URL(baseUrl).origin} (${model}) for users without their own`,
        }
      : {
          level: 'warn',
          what: 'no model upstream: turns fail with model_not_configured unless users set their own',
          fix: 'set CLAWPORT_LLM_BASE_URL, CLAWPORT_LLM_MODEL and CLAWPORT_LLM_API_KEY',
        },
  )
  return out
}
