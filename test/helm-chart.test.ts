import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1'
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { Secret, Service, ServiceAccount } from 'kubernetes-models/v1'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { loadConfig } from '../src/config.js'
import { inProcess } from './helpers/app.js'

/**
 * deploy/helm/clawport, rendered offline by the real helm (scripts/install-helm.sh puts it in
 * runtime/helm) and every object checked against the Kubernetes API schemas of kubernetes-models.
 * Nothing here talks to a cluster.
 */
const REPO = path.resolve(import.meta.dirname, '..')
const CHART = path.join(REPO, 'deploy/helm/clawport')
const HELM = [path.join(REPO, 'runtime/helm/helm'), '/usr/local/bin/helm', '/usr/bin/helm'].find((p) =>
  existsSync(p),
)
if (!HELM) {
  process.stderr.write('\n  skipped: no helm in runtime/helm (scripts/install-helm.sh installs it)\n')
}
const run = promisify(execFile)

/** The schema every kind the chart renders is checked against; a kind missing here fails. */
const MODELS: Record<string, new (doc: any) => { validate(): void }> = {
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
}

const SECRET_KEY = 'q2x5Tq3xh0mV0t1c9n2u8Yb1bX0wP7kq3m4Lw8s9ZfQ='
const DATABASE_URL = 'postgres://clawport:db-pass-4d1f@postgres.db.svc:5432/clawport'
const RUNNER_TOKEN = '5f0c2a7e9b1d4c6a8e3f7b2d9c1a6e4f'
/** The values with no default: without them the chart refuses to render. */
const REQUIRED = {
  database: { url: DATABASE_URL },
  secretKey: { value: SECRET_KEY },
  runnerToken: { value: RUNNER_TOKEN },
}

let tmp: string
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'clawport-helm-'))
})
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

let valuesFiles = 0
async function helm(args: string[], values: object): Promise<string> {
  const file = path.join(tmp, `values-${valuesFiles++}.json`)
  writeFileSync(file, JSON.stringify(values))
  const { stdout } = await run(HELM as string, [...args, CHART, '-f', file], {
    env: { PATH: process.env.PATH, HOME: tmp, KUBECONFIG: path.join(tmp, 'no-cluster') },
  })
  return stdout
}

interface Rendered {
  text: string
  objects: any[]
  one(kind: string): any
}

/** `helm template` with these values, parsed; every object is schema-checked. */
async function render(values: object): Promise<Rendered> {
  const text = await helm(['template', 'cp', '--namespace', 'clawport'], values)
  const objects = parseAllDocuments(text)
    .map((d) => d.toJSON())
    .filter(Boolean)
  for (const o of objects) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`]
    if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`)
    expect(() => new Model(o).validate(), `${o.kind} ${o.metadata?.name}`).not.toThrow()
  }
  return {
    text,
    objects,
    one(kind) {
      const found = objects.filter((o) => o.kind === kind)
      expect(found, kind).toHaveLength(1)
      return found[0]
    },
  }
}

async function renderError(values: object): Promise<string> {
  try {
    await helm(['template', 'cp'], values)
  } catch (err) {
    return String((err as { stderr?: string }).stderr)
  }
  throw new Error('the chart rendered')
}

const kinds = (r: Rendered) => r.objects.map((o) => o.kind).sort()
const envOf = (container: any) => new Map<string, any>(container.env.map((e: any) => [e.name, e]))

/** A container's env as the kubelet would give it, with secretKeyRefs read from these Secrets. */
function resolveEnv(container: any, secrets: Record<string, Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const e of container.env) {
    const ref = e.valueFrom?.secretKeyRef
    if (ref) env[e.name] = secrets[ref.name]?.[ref.key] ?? expect.unreachable(`${ref.name}/${ref.key}`)
    else if (e.value !== undefined) env[e.name] = e.value
  }
  return env
}

describe.skipIf(!HELM)('the Helm chart', () => {
  describe('default values (and the three secrets, which have none)', () => {
    let r: Rendered
    beforeAll(async () => {
      r = await render(REQUIRED)
    })

    it('renders the control plane, its runner, a Secret and a disruption budget, all schema-valid', () => {
      expect(kinds(r)).toEqual([
        'DaemonSet',
        'Deployment',
        'PodDisruptionBudget',
        'Secret',
        'Service',
        'ServiceAccount',
      ])
    })

    it('runs the control plane as replicas reading every secret from the Secret', () => {
      const deployment = r.one('Deployment')
      const secret = r.one('Secret')
      expect(deployment.spec.replicas).toBe(2)
      const [c] = deployment.spec.template.spec.containers
      expect(c.image).toBe('clawport/clawport:0.1.0')
      expect(c.args).toEqual(['serve', '--host', '0.0.0.0', '--port', '8080'])
      const env = envOf(c)
      for (const [name, key] of [
        ['CLAWPORT_DATABASE_URL', 'database-url'],
        ['CLAWPORT_SECRET_KEY', 'secret-key'],
        ['CLAWPORT_RUNNER_TOKEN', 'runner-token'],
      ] as const) {
        expect(env.get(name), name).toEqual({
          name,
          valueFrom: { secretKeyRef: { name: secret.metadata.name, key } },
        })
      }
      expect(env.get('CLAWPORT_LOCAL_INSTANCES')?.value).toBe('off')
      expect(env.get('CLAWPORT_DATA_DIR')?.value).toBe('/var/lib/clawport')
      expect(env.has('CLAWPORT_TRUST_PROXY')).toBe(false)
      const decoded = Object.fromEntries(
        Object.entries(secret.data as Record<string, string>).map(([k, v]) => [
          k,
          Buffer.from(v, 'base64').toString(),
        ]),
      )
      expect(decoded).toEqual({
        'database-url': DATABASE_URL,
        'secret-key': SECRET_KEY,
        'runner-token': RUNNER_TOKEN,
      })
      // The server accepts the environment its pods get.
      const config = loadConfig(resolveEnv(c, { [secret.metadata.name]: decoded }))
      expect(config.store.kind).toBe('postgres')
      expect(config.store.secretKey).toBe(SECRET_KEY)
      expect(config.dataDir).toBe('/var/lib/clawport')
    })

    it('probes a route the server serves without a key', async () => {
      const [c] = r.one('Deployment').spec.template.spec.containers
      const paths = [c.startupProbe, c.readinessProbe, c.livenessProbe].map((p) => p.httpGet.path)
      expect(new Set(paths)).toEqual(new Set(['/healthz']))
      expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }])
      const t = await inProcess({ CLAWPORT_GATEWAY: 'off' })
      try {
        expect((await t.inject('GET', paths[0])).status).toBe(200)
      } finally {
        await t.close()
      }
    })

    it('puts the Service and the disruption budget on the control plane only', () => {
      const labels = r.one('Deployment').spec.template.metadata.labels
      const runnerLabels = r.one('DaemonSet').spec.template.metadata.labels
      const service = r.one('Service')
      for (const selector of [
        service.spec.selector,
        r.one('PodDisruptionBudget').spec.selector.matchLabels,
      ]) {
        expect(labels).toMatchObject(selector)
        expect(runnerLabels).not.toMatchObject(selector)
      }
      expect(service.spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }])
      expect(r.one('PodDisruptionBudget').spec.minAvailable).toBe(1)
    })

    it('runs a privileged runner on the labelled nodes, with their data, /dev and cgroups', () => {
      const ds = r.one('DaemonSet')
      const pod = ds.spec.template.spec
      expect(pod.nodeSelector).toEqual({ 'clawport.dev/instances': 'true' })
      expect(pod.hostNetwork).toBeUndefined()
      const [c] = pod.containers
      expect(c.securityContext.privileged).toBe(true)
      const service = r.one('Service')
      expect(c.args).toEqual([
        'runner',
        '--server',
        `http://${service.metadata.name}:${service.spec.ports[0].port}`,
        '--listen',
        '0.0.0.0:7443',
        '--advertise',
        'https://$(NODE_IP):7443',
        '--name',
        '$(NODE_NAME)',
        '--data-dir',
        '/var/lib/clawport-runner',
      ])
      expect(c.ports).toEqual([{ name: 'runner', containerPort: 7443, hostPort: 7443, protocol: 'TCP' }])
      const env = envOf(c)
      expect(env.get('NODE_IP')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'status.hostIP' } })
      expect(env.get('NODE_NAME')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'spec.nodeName' } })
      const secretName = r.one('Secret').metadata.name
      expect(env.get('CLAWPORT_DATABASE_URL')?.valueFrom.secretKeyRef).toEqual({
        name: secretName,
        key: 'database-url',
      })
      expect(env.get('CLAWPORT_RUNNER_TOKEN')?.valueFrom.secretKeyRef).toEqual({
        name: secretName,
        key: 'runner-token',
      })
      expect(env.has('CLAWPORT_SECRET_KEY')).toBe(false)
      expect(env.get('CLAWPORT_UID_BASE')?.value).toBe('200000')
      const hostPaths = Object.fromEntries(
        pod.volumes.map((v: any) => [v.name, v.hostPath?.path] as [string, string]),
      )
      const mounts = Object.fromEntries(
        c.volumeMounts.map((m: any) => [hostPaths[m.name], m.mountPath] as [string, string]),
      )
      expect(mounts).toEqual({
        '/var/lib/clawport-runner': '/var/lib/clawport-runner',
        '/dev': '/dev',
        '/sys/fs/cgroup': '/sys/fs/cgroup',
      })
    })

    it('passes helm lint --strict', async () => {
      const out = await helm(['lint', '--strict'], REQUIRED)
      expect(out).toContain('0 chart(s) failed')
    })
  })

  describe('an Ingress and existing secrets', () => {
    // Inline values are given too: with existingSecret set they must not reach any manifest.
    const INLINE_DB = 'postgres://u:inline-db-7e21@db/x'
    const INLINE_KEY = 'inline-key-93ab'
    const INLINE_TOKEN = 'inline-token-50cd-0123456789abcdef'
    const values = {
      database: { url: INLINE_DB, existingSecret: 'pg-app', existingSecretKey: 'uri' },
      secretKey: { value: INLINE_KEY, existingSecret: 'clawport-keys' },
      runnerToken: { value: INLINE_TOKEN, existingSecret: 'clawport-keys', existingSecretKey: 'runner' },
      ingress: {
        enabled: true,
        hosts: [{ host: 'clawport.example.com' }],
        tls: [{ secretName: 'clawport-tls', hosts: ['clawport.example.com'] }],
      },
      controlPlane: { replicas: 3 },
      runner: { labels: { zone: 'eu-1', disk: 'ssd' }, uidBase: 300000 },
    }
    let r: Rendered
    beforeAll(async () => {
      r = await render(values)
    })

    it('renders an Ingress and no Secret, all schema-valid', () => {
      expect(kinds(r)).toEqual([
        'DaemonSet',
        'Deployment',
        'Ingress',
        'PodDisruptionBudget',
        'Service',
        'ServiceAccount',
      ])
    })

    it('puts no secret value in any manifest', () => {
      for (const leak of [INLINE_DB, 'inline-db-7e21', INLINE_KEY, INLINE_TOKEN]) {
        expect(r.text).not.toContain(leak)
        expect(r.text).not.toContain(Buffer.from(leak).toString('base64'))
      }
    })

    it('reads each secret from the Secret named for it', () => {
      const deployment = r.one('Deployment')
      expect(deployment.spec.replicas).toBe(3)
      const [c] = deployment.spec.template.spec.containers
      const env = envOf(c)
      expect(env.get('CLAWPORT_DATABASE_URL')?.valueFrom.secretKeyRef).toEqual({ name: 'pg-app', key: 'uri' })
      expect(env.get('CLAWPORT_SECRET_KEY')?.valueFrom.secretKeyRef).toEqual({
        name: 'clawport-keys',
        key: 'secret-key',
      })
      expect(env.get('CLAWPORT_RUNNER_TOKEN')?.valueFrom.secretKeyRef).toEqual({
        name: 'clawport-keys',
        key: 'runner',
      })
      const runnerEnv = envOf(r.one('DaemonSet').spec.template.spec.containers[0])
      expect(runnerEnv.get('CLAWPORT_DATABASE_URL')?.valueFrom.secretKeyRef).toEqual({
        name: 'pg-app',
        key: 'uri',
      })
      expect(runnerEnv.get('CLAWPORT_RUNNER_TOKEN')?.valueFrom.secretKeyRef).toEqual({
        name: 'clawport-keys',
        key: 'runner',
      })
      expect(runnerEnv.get('CLAWPORT_RUNNER_LABELS')?.value).toBe('disk=ssd,zone=eu-1')
      // The labels and the uid base parse as the runner's configuration parses them.
      const runnerConfig = loadConfig({
        CLAWPORT_RUNNER_LABELS: runnerEnv.get('CLAWPORT_RUNNER_LABELS')?.value,
        CLAWPORT_UID_BASE: runnerEnv.get('CLAWPORT_UID_BASE')?.value,
      })
      expect(runnerConfig.fleet.runnerLabels).toEqual({ disk: 'ssd', zone: 'eu-1' })
      expect(runnerConfig.driver.uidBase).toBe(300000)
    })

    it('routes the Ingress to the Service with the stream timeouts, and the server trusts it', () => {
      const ingress = r.one('Ingress')
      const service = r.one('Service')
      expect(ingress.metadata.annotations).toMatchObject({
        'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
        'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
        'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
      })
      expect(ingress.spec.ingressClassName).toBe('nginx')
      expect(ingress.spec.tls).toEqual(values.ingress.tls)
      expect(ingress.spec.rules).toEqual([
        {
          host: 'clawport.example.com',
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: service.metadata.name, port: { number: 8080 } } },
              },
            ],
          },
        },
      ])
      const [c] = r.one('Deployment').spec.template.spec.containers
      const config = loadConfig(
        resolveEnv(c, {
          'pg-app': { uri: DATABASE_URL },
          'clawport-keys': { 'secret-key': SECRET_KEY, runner: RUNNER_TOKEN },
        }),
      )
      expect(config.http.publicUrl).toBe('https://clawport.example.com')
      expect(config.http.trustProxy.length).toBeGreaterThan(0)
    })
  })

  it('renders one replica without a disruption budget, and a runner on the host network', async () => {
    const r = await render({ ...REQUIRED, controlPlane: { replicas: 1 }, runner: { hostNetwork: true } })
    expect(kinds(r)).not.toContain('PodDisruptionBudget')
    const pod = r.one('DaemonSet').spec.template.spec
    expect(pod.hostNetwork).toBe(true)
    expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet')
  })

  it('refuses to render without the secrets, or with values the server or the schema refuses', async () => {
    expect(await renderError({})).toContain(
      'CLAWPORT_DATABASE_URL is required: set database.url or database.existingSecret',
    )
    expect(await renderError({ ...REQUIRED, runnerToken: {} })).toContain(
      'CLAWPORT_RUNNER_TOKEN is required: set runnerToken.value or runnerToken.existingSecret',
    )
    expect(await renderError({ ...REQUIRED, secretKey: { value: 'short' } })).toContain(
      'secretKey.value must be 32 bytes in base64',
    )
    expect(await renderError({ ...REQUIRED, runnerToken: { value: 'short' } })).toContain(
      'runnerToken.value must be at least 32 characters',
    )
    expect(await renderError({ ...REQUIRED, database: { url: 'mysql://x@y/z' } })).toContain(
      'database.url must be a postgres:// or postgresql:// URL',
    )
    // values.schema.json: types, the runner's label syntax, and misspelt keys.
    expect(await renderError({ ...REQUIRED, controlPlane: { replicas: 'two' } })).toContain(
      "'/controlPlane/replicas': got string, want integer",
    )
    expect(await renderError({ ...REQUIRED, runner: { labels: { zone: 'eu 1' } } })).toContain(
      "'/runner/labels/zone': 'eu 1' does not match pattern",
    )
    expect(await renderError({ ...REQUIRED, controlplane: { replicas: 3 } })).toContain(
      "additional properties 'controlplane' not allowed",
    )
  })
})
