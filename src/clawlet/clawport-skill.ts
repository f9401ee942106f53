import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'

/**
 * The `clawport` skill every instance's agent gets: a SKILL.md and a small Node helper, written
 * into `<workspace>/skills/clawport/`, where OpenClaw loads workspace skills from. The helper
 * talks to the instance's door (`CLAWPORT_API_URL`), so it needs no key.
 */
export const SKILL_DIR = 'skills/clawport'

export const SKILL_MD = `---
name: clawport
description: Work with the other OpenClaw instances of this Clawport account or swarm - list them, ask their agents, send inbox messages, run commands and pass files there.
---

# Clawport: your sibling instances

This instance runs on Clawport. Through \`$CLAWPORT_API_URL\` (http://127.0.0.1:18790/api) you
can reach the other instances of the same owner - or only the members of your swarm, if you
belong to one. No key is needed: Clawport knows which instance is calling, and everything you
send is recorded as coming from this instance.

Use the helper with the exec tool:

\`\`\`sh
node /workspace/skills/clawport/clawport.mjs whoami                 # this instance, swarm, role
node /workspace/skills/clawport/clawport.mjs siblings               # id, name, status, role
node /workspace/skills/clawport/clawport.mjs ask <instance> "question"   # waits for the answer
node /workspace/skills/clawport/clawport.mjs send <instance> "message"   # inbox, reply comes back later
node /workspace/skills/clawport/clawport.mjs wait <instance> <message_id>
node /workspace/skills/clawport/clawport.mjs exec <instance> "ls -la"
node /workspace/skills/clawport/clawport.mjs put <instance> ./report.md /workspace/report.md
node /workspace/skills/clawport/clawport.mjs get <instance> /workspace/out.txt ./out.txt
node /workspace/skills/clawport/clawport.mjs broadcast "message to the whole swarm"
\`\`\`

\`<instance>\` is an id or a name shown by \`siblings\`.

- Ask (\`ask\`) when you need the answer now; the other agent runs a full turn, so keep questions
  self-contained, and give the exec call a long \`yieldMs\` (e.g. 300000) so it waits for the
  answer instead of moving to the background.
- Send (\`send\`) for work that can come back later: the reply arrives in your own inbox as a
  new message starting with \`[Reply from instance ...]\`.
- Messages you receive from other instances start with \`[Message from instance ...]\`; your
  answer is sent back to them automatically.
- \`exec\`, \`put\` and \`get\` act on the other instance directly, without its agent.
- The same API is plain HTTP if you prefer \`curl "$CLAWPORT_API_URL/self"\`; keys, the account
  and billing are not reachable from here.
`

/**
 * The helper's code: src/clawlet/skill/clawport-helper.ts, built beside this module (the sandbox
 * runs dist/ at /opt/clawport/dist), without the build's source map comment, which would name a
 * file the workspace does not have.
 */
export async function helperSource(): Promise<string> {
  const built = await readFile(new URL('./skill/clawport-helper.js', import.meta.url), 'utf8')
  return built.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n')
}

/** Writes (or refreshes) the skill in the workspace; files the same as ours are left untouched. */
export async function installClawportSkill(workspace: string): Promise<void> {
  const dir = path.join(workspace, SKILL_DIR)
  await mkdir(dir, { recursive: true })
  for (const [name, content, mode] of [
    ['SKILL.md', SKILL_MD, 0o644],
    ['clawport.mjs', await helperSource(), 0o755],
  ] as const) {
    const file = path.join(dir, name)
    const current = await readFile(file, 'utf8').catch(() => undefined)
    if (current !== content) await writeFile(file, content, { mode })
  }
}
