import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/**
 * "The internet" of a test: a network namespace behind a veth pair, at documentation addresses
 * (TEST-NET-3), serving HTTP (a folder: a page, an npm tarball, a tiny Python package index) on
 * every address and DNS on the first. Nothing leaves this machine. Names it answers for:
 * `pkg.test` and `sub.pkg.test` at `ip`, `*.wild.test` at `ip2`, `other.test` at `ip3`.
 */
export interface TestInternet {
  ip: string
  ip2: string
  ip3: string
  /** The address the host side of the veth has (the host's own: never reachable). */
  hostSide: string
  stop: () => void
}

const NET = '203.0.113'
/** Each test lane (vitest.config.ts) has its own eight addresses, so lanes side by side never meet. */
const FIRST = 8 * Number(process.env.CLAWPORT_TEST_LANE ?? 0)

export async function startInternet(tag: string): Promise<TestInternet> {
  const ns = `cpnet${tag}${process.pid % 10000}`
  const veth = `cpw${tag}${process.pid % 10000}`
  const at = (n: number) => `${NET}.${FIRST + n}`
  const [hostSide, ip, ip2, ip3] = [at(1), at(2), at(3), at(4)]
  const run = (...args: string[]) => execFileSync('ip', args)
  const children: ChildProcess[] = []
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-inet-'))
  const stop = () => {
    for (const c of children) c.kill('SIGKILL')
    try {
      run('link', 'del', veth)
    } catch {}
    try {
      run('netns', 'del', ns)
    } catch {}
    fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    run('netns', 'add', ns)
    run('link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}i`)
    run('link', 'set', `${veth}i`, 'netns', ns)
    // Point-to-point (/32) addresses: the host's own subnets are refused to instances.
    run('addr', 'add', hostSide, 'peer', ip, 'dev', veth)
    run('link', 'set', veth, 'up')
    for (const extra of [ip2, ip3]) run('route', 'add', extra, 'dev', veth)
    run('-n', ns, 'addr', 'add', ip, 'peer', hostSide, 'dev', `${veth}i`)
    for (const extra of [ip2, ip3]) run('-n', ns, 'addr', 'add', `${extra}/32`, 'dev', `${veth}i`)
    run('-n', ns, 'link', 'set', `${veth}i`, 'up')
    run('-n', ns, 'link', 'set', 'lo', 'up')
    writeContent(dir)
    const inNs = (cmd: string[]) => {
      const c = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'ignore' })
      children.push(c)
    }
    inNs(['python3', '-m', 'http.server', '80', '--bind', '0.0.0.0', '--directory', dir])
    inNs([
      'dnsmasq',
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--pid-file=',
      `--listen-address=${ip}`,
      '--bind-interfaces',
      '--user=root',
      `--address=/pkg.test/${ip}`,
      `--address=/wild.test/${ip2}`,
      `--address=/other.test/${ip3}`,
    ])
    for (let i = 0; ; i++) {
      try {
        execFileSync(
          'ip',
          [
            'netns',
            'exec',
            ns,
            'python3',
            '-c',
            `import socket; socket.create_connection(("${ip}", 80), 1); socket.create_connection(("${ip}", 53), 1)`,
          ],
          { stdio: 'ignore' },
        )
        break
      } catch (err) {
        if (i > 100) throw err
        await new Promise((r) => setTimeout(r, 50))
      }
    }
  } catch (err) {
    stop()
    throw err
  }
  return { ip, ip2, ip3, hostSide, stop }
}

/** The folder the test internet serves. */
function writeContent(dir: string): void {
  fs.writeFileSync(path.join(dir, 'hello.txt'), 'hello from the internet\n')
  fs.mkdirSync(path.join(dir, 'files'))
  // An npm package as `npm pack` makes it: a gzipped tar of package/.
  const pkg = path.join(dir, 'build', 'package')
  fs.mkdirSync(pkg, { recursive: true })
  fs.writeFileSync(
    path.join(pkg, 'package.json'),
    JSON.stringify({ name: 'tiny-pkg', version: '1.0.0', main: 'index.js' }),
  )
  fs.writeFileSync(path.join(pkg, 'index.js'), "module.exports = 'tiny-pkg works'\n")
  execFileSync('tar', [
    'czf',
    path.join(dir, 'files', 'tiny-pkg-1.0.0.tgz'),
    '-C',
    path.dirname(pkg),
    'package',
  ])
  // A pure-Python wheel and a PEP 503 simple index that lists it.
  execFileSync('python3', [
    '-c',
    `import zipfile
z = zipfile.ZipFile(${JSON.stringify(path.join(dir, 'files', 'tinypkg-1.0-py3-none-any.whl'))}, "w")
files = {
  "tinypkg/__init__.py": "VALUE = 'tinypkg works'\\n",
  "tinypkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: tinypkg\\nVersion: 1.0\\n",
  "tinypkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
files["tinypkg-1.0.dist-info/RECORD"] = "".join(f"{n},,\\n" for n in files) + "tinypkg-1.0.dist-info/RECORD,,\\n"
for n, t in files.items(): z.writestr(n, t)
z.close()`,
  ])
  fs.mkdirSync(path.join(dir, 'simple', 'tinypkg'), { recursive: true })
  fs.writeFileSync(
    path.join(dir, 'simple', 'tinypkg', 'index.html'),
    '<html><body><a href="/files/tinypkg-1.0-py3-none-any.whl">tinypkg-1.0-py3-none-any.whl</a></body></html>\n',
  )
}
