import path from 'node:path'
import { CONTROL_PORT, MODEL_ALIAS, PROVIDER_ID } from '../wire/gateway.js'
import { browserConfig, type GatewayFeatures, memoryConfig, pluginsConfig } from './gateway-features.js'

/** Where the gateway keeps its files inside the instance. */
export interface GatewayPaths {
  home: string
  stateDir: string
  configFile: string
  logFile: string
  outFile: string
  tmpDir: string
}

export function gatewayPaths(home: string): GatewayPaths {
  const stateDir = path.join(home, '.openclaw')
  return {
    home,
    stateDir,
    configFile: path.join(stateDir, 'openclaw.json'),
    logFile: path.join(stateDir, 'logs', 'gateway.log'),
    outFile: path.join(stateDir, 'logs', 'gateway.out'),
    tmpDir: path.join(stateDir, 'tmp'),
  }
}

/**
 * The instance's OpenClaw config: local gateway with token auth and the HTTP endpoints on, no
 * control UI, no heartbeat turns, no update checks, one model provider that is the control
 * plane's broker (reached through the instance's own door), and the agent's plugins, memory and
 * browser. OpenClaw refuses to start on unknown keys: every key here was checked against the
 * pinned package.
 */
export function gatewayConfig(o: {
  token: string
  port: number
  workspace: string
  logFile: string
  features: GatewayFeatures
}): object {
  return {
    gateway: {
      mode: 'local',
      port: o.port,
      bind: 'loopback',
      auth: { mode: 'token', token: o.token },
      controlUi: { enabled: false },
      http: { endpoints: { chatCompletions: { enabled: true }, responses: { enabled: true } } },
    },
    plugins: pluginsConfig(),
    memory: memoryConfig(o.features.embeddings),
    browser: browserConfig(o.features.display),
    update: { checkOnStart: false },
    models: {
      providers: {
        [PROVIDER_ID]: {
          baseUrl: `http://127.0.0.1:${CONTROL_PORT}/v1`,
          // Not a secret: the broker adds the real credentials outside the instance.
          apiKey: 'clawport-broker',
          api: 'openai-completions',
          models: [{ id: MODEL_ALIAS, name: 'Clawport model' }],
        },
      },
    },
    agents: {
      defaults: {
        model: { primary: `${PROVIDER_ID}/${MODEL_ALIAS}` },
        workspace: o.workspace,
        heartbeat: { every: '0m' },
      },
    },
    logging: { file: o.logFile },
  }
}

/** The gateway process's whole environment (nothing else of the clawlet's leaks in). */
export function gatewayEnv(p: GatewayPaths, base: Readonly<Record<string, string>>): Record<string, string> {
  return {
    PATH: base.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: base.LANG ?? 'C.UTF-8',
    USER: base.USER ?? 'claw',
    LOGNAME: base.LOGNAME ?? 'claw',
    SHELL: '/bin/bash',
    TERM: 'xterm-256color',
    ...(base.DISPLAY ? { DISPLAY: base.DISPLAY } : {}),
    // The instance's own settings (CLAWPORT_API_URL, CLAWPORT_INSTANCE_ID) reach the agent's tools.
    ...Object.fromEntries(Object.entries(base).filter(([k]) => k.startsWith('CLAWPORT_'))),
    HOME: p.home,
    OPENCLAW_STATE_DIR: p.stateDir,
    TMPDIR: p.tmpDir,
    OPENCLAW_NO_AUTO_UPDATE: '1',
    OPENCLAW_DISABLE_BONJOUR: '1',
    OPENCLAW_SKIP_CHANNELS: '1',
    OPENCLAW_NO_RESPAWN: '1',
    NO_COLOR: '1',
  }
}
