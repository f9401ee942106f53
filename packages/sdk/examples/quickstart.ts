// Reuse a ready instance (or create one), chat with its agent, and work with its files.
// Run: OPENCLAW_API_BASE_URL=http://127.0.0.1:8080 OPENCLAW_API_KEY=sk_live_... node examples/quickstart.ts
import { Clawport } from '../src/index.ts'

const client = Clawport.fromEnv()
const instance = (await client.instances.findReady()) ?? (await client.instances.waitReady((await client.instances.create()).id))
console.log('instance', instance.id)

await client.files.write(instance.id, 'notes/hello.txt', 'hello from the SDK\n')
const run = await client.terminal.exec(instance.id, 'cat notes/hello.txt', { timeout_ms: 10_000 })
console.log('exec:', run.stdout.trim(), 'exit', run.exit_code)

const turn = await client.chat.send(instance.id, 'Say hello in five words.')
console.log('agent:', turn.message.content)
