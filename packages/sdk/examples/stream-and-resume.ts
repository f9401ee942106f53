// Stream a turn; if the connection drops, resume from the last event cursor with follow().
// Run: OPENCLAW_API_BASE_URL=... OPENCLAW_API_KEY=... OPENCLAW_INSTANCE_ID=... node examples/stream-and-resume.ts
import { Clawport } from '../src/index.ts'

const client = Clawport.fromEnv()
const id = process.env.OPENCLAW_INSTANCE_ID ?? (await client.instances.findReady())?.id
if (!id) throw new Error('no ready instance')

let last = 0
let sessionId: string | undefined
try {
  for await (const e of client.chat.stream(id, 'Write a limerick about sandboxes.')) {
    last = e.id ?? last
    if (e.event === 'session') sessionId = e.data.session_id
    if (e.event === 'delta') process.stdout.write(e.data.text)
    if (e.event === 'done' || e.event === 'error') break
  }
} catch {
  // The turn goes on without us: pick it up where we left off.
  for await (const e of client.chat.follow(id, { after: last, sessionId })) {
    if (e.event === 'delta') process.stdout.write(e.data.text)
    if (e.event === 'done' || e.event === 'error') break
  }
}
process.stdout.write('\n')
