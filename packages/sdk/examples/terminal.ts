// Run a command through the interactive terminal WebSocket and print what the shell prints.
// Run: OPENCLAW_API_BASE_URL=... OPENCLAW_API_KEY=... OPENCLAW_INSTANCE_ID=... node examples/terminal.ts
import { Clawport } from '../src/index.ts'

const client = Clawport.fromEnv()
const id = process.env.OPENCLAW_INSTANCE_ID ?? (await client.instances.findReady())?.id
if (!id) throw new Error('no ready instance')

const ws = await client.terminal.connect(id, { cols: 100, rows: 30 })
ws.onmessage = (m) => {
  if (typeof m.data === 'string') {
    const msg = JSON.parse(m.data)
    if (msg.type === 'ready') ws.send(new TextEncoder().encode('echo hi from $(hostname); exit\n'))
    if (msg.type === 'exit') ws.close()
  } else process.stdout.write(new Uint8Array(m.data as ArrayBuffer))
}
