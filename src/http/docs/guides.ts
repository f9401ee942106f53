/**
 * The hand-written agent documents. Every example names the serving origin, reads the key from
 * $OPENCLAW_API_KEY and the instance from $OPENCLAW_INSTANCE_ID, and runs as written (a test
 * runs each ```sh block in order against a real server).
 */

const auth = '-H "Authorization: Bearer $OPENCLAW_API_KEY"'
const json = "-H 'content-type: application/json'"

/** `/llms.txt`: the compact quick start. */
export function renderLlmsTxt(origin: string): string {
  const api = `${origin}/api`
  const inst = `${api}/instances/$OPENCLAW_INSTANCE_ID`
  return `# Clawport

> OpenClaw as a Service: sandboxed OpenClaw agent instances you create, chat with, and work
> in (files, commands, terminal, desktop) over one REST + SSE + WebSocket API.

- Base URL: ${api} (\`GET ${api}\` describes the service; no key needed)
- Auth: \`Authorization: Bearer <key>\` on everything else; keys look like \`sk_live_...\` and are made at ${origin}/account. Put yours in \`OPENCLAW_API_KEY\`.
- Full reference (every endpoint, field, status and error code): ${origin}/llms-full.md
- Operating guide for agents (reuse, streaming, resync, errors): ${origin}/agent.md
- OpenAPI 3.1: ${api}/openapi.json and ${api}/openapi.yaml
- Agent skill: ${origin}/skills/clawport/SKILL.md, bundle ${origin}/skills/clawport.tar.gz
- Errors are JSON \`{"message", "code", "status"}\`: print message, branch on code.

## Discover

\`\`\`sh
curl -s ${api}
\`\`\`

## Get a ready instance (reuse one; create only when there is none)

\`\`\`sh
export OPENCLAW_INSTANCE_ID=$(curl -s ${auth} ${api}/instances | jq -r '[.[] | select(.status == "ready")][0].id // empty')
if [ -z "$OPENCLAW_INSTANCE_ID" ]; then
  export OPENCLAW_INSTANCE_ID=$(curl -s -X POST ${auth} ${api}/instances | jq -r .id)
  until curl -s ${auth} ${inst} | jq -e '.status == "ready"' >/dev/null; do sleep 2; done
fi
echo "$OPENCLAW_INSTANCE_ID"
\`\`\`

Creating answers 201 with \`"status": "provisioning"\`; 403 means no subscription (send
\`{"invite_code": "..."}\`) or the plan's instance limit; 503 means the server is full.

## Chat with the agent

\`\`\`sh
curl -s ${auth} ${inst}/chat/sessions
curl -s -X POST ${auth} ${json} -d '{"title":"quick start"}' ${inst}/chat/sessions
curl -s -X POST ${auth} ${json} -d '{"message":"Hello! What can you do?"}' ${inst}/chat | jq -r .message.content
curl -sN -X POST ${auth} ${json} -d '{"message":"Tell me a short story"}' ${inst}/chat/stream
curl -s ${auth} "${inst}/chat/messages?tail=true&limit=5"
curl -s ${auth} "${inst}/chat/events?after=0&limit=10"
\`\`\`

\`/chat\` waits for the finished turn; \`/chat/stream\` is server-sent events: \`session\`,
\`message\`, \`delta\` {text}..., \`tool\`..., then \`done\` {message} or \`error\` {message, code}.
Without \`session_id\` the most recent session continues. Follow \`/chat/events\` (SSE with
\`Accept: text/event-stream\`) from a cursor to catch up after a disconnect.

## Files (relative paths are under /workspace)

\`\`\`sh
curl -s -X POST ${auth} ${json} -d '{"path":"notes/hello.txt","content":"hi there"}' ${inst}/files/write
curl -s ${auth} "${inst}/files/read?path=notes/hello.txt"
curl -s ${auth} "${inst}/files?path=notes"
curl -s -X POST ${auth} ${json} -d '{"path":"project/src"}' ${inst}/files/mkdir
curl -s -X POST ${auth} ${json} -d '{"targetDir":"/workspace/project","fileName":"README.md","content":"# project"}' ${inst}/files/upload
curl -s -X POST ${auth} -H 'content-type: application/octet-stream' --data-binary @/etc/hostname "${inst}/files/upload?path=project/hostname.txt"
curl -s ${auth} -o workspace.tar.gz "${inst}/files/download?path=/workspace"
\`\`\`

## Commands and terminal

\`\`\`sh
curl -s -X POST ${auth} ${json} -d '{"command":"ls -la && cat notes/hello.txt","timeout_ms":10000}' ${inst}/terminal/exec
\`\`\`

Answers \`{stdout, stderr, exit_code, timed_out, duration_ms}\`. An interactive shell is a
WebSocket at \`${inst.replace(/^http/, 'ws')}/terminal/ws\` (same bearer header): binary frames
are terminal bytes, text frames JSON (\`ready\`, \`exit\`, \`resize\`); see ${origin}/llms-full.md.

## Tools

\`\`\`sh
curl -s ${origin}/skills/clawport.tar.gz | tar xz
OPENCLAW_API_BASE_URL=${api} node clawport/clawport.mjs instances list
\`\`\`

The \`clawport\` CLI (\`npm i -g\` this server's package, or run it from its checkout) is a full
client too: \`clawport instances\`, \`clawport chat send\`, \`clawport files upload\`,
\`clawport exec\`, \`clawport terminal attach\`, \`clawport mcp\` (an MCP server for any
MCP-capable agent); all take \`--base-url ${api}\` and \`--api-key\` or the same environment
variables.
`
}

/** `/agent.md`: how an agent should operate Clawport. */
export function renderAgentGuide(origin: string): string {
  const api = `${origin}/api`
  const inst = `${api}/instances/$OPENCLAW_INSTANCE_ID`
  return `# Operating Clawport as an agent

Clawport runs OpenClaw instances: each is a sandbox with its own \`/workspace\`, shell and
OpenClaw agent. You drive it over ${api} with \`Authorization: Bearer $OPENCLAW_API_KEY\`.
Reference: ${origin}/llms-full.md. Quick start: ${origin}/llms.txt.

## 1. Reuse a ready instance

Instances are slow to create (the agent boots) and limited per plan. Before creating one,
list yours and reuse one whose \`status\` is \`ready\`; keep its id in \`OPENCLAW_INSTANCE_ID\`.

\`\`\`sh
curl -s ${auth} ${api}/instances | jq -r '.[] | "\\(.id) \\(.status)"'
\`\`\`

- \`stopped\`: \`POST .../start\` it and wait for \`ready\` rather than creating another.
- \`provisioning\`, \`starting\`, \`rebooting\`, \`waking\`: poll \`GET .../instances/{id}\` every 1-2 s.
- \`sleeping\`: use it as it is. It slept after being unused; a chat turn wakes it (the request
  waits for the agent, or answers 409 \`instance_waking\` with \`Retry-After\` after 60 s), and
  files and exec work without waking it.
- \`error\`: read \`error\`, then reboot it or delete it (\`DELETE .../instances/{id}\`).
  \`GET .../instances/{id}/events\` tells why it stopped, crashed or ran out of memory
  (\`crashed\`, \`oom_killed\`, \`start_timeout\`, each with a \`reason\`).
  \`GET .../instances/{id}/logs?source=gateway&tail=200\` shows what the agent itself printed
  (\`source\`: \`clawlet\`, \`gateway\`, \`desktop\`, \`boot\`; \`follow=true\` streams it as SSE), and
  \`GET .../instances/{id}/metrics\` its CPU, memory, disk and processes against its limits.
- An instance reaches the internet (\`network: "public"\`), only the host names it lists
  (\`"allowlist"\` with \`allowed_hosts\`: \`pypi.org\`, \`*.pythonhosted.org\`), or nothing
  (\`"off"\`), as its plan allows. A fetch or install that fails with NXDOMAIN or a refused
  connection on an allowlist instance needs that host added (\`PATCH .../instances/{id}\` while
  stopped), not retries.
- Create (\`POST ${api}/instances\`) only when none fits. A 403 \`subscription_required\` or
  \`invite_*\` means this user cannot create instances (ask the human for an invite code);
  403 \`instance_limit_reached\` means reuse or delete one; 503 \`no_capacity\` means the server
  is full: wait and retry, do not loop fast.

## 2. One-shot or streaming

- **One-shot** (\`POST .../chat\`): blocks until the turn is finished and answers the whole
  turn (\`message\` is the assistant's reply, \`messages\` the user message, tool calls and
  reply). Simple, but a long turn holds the request open for minutes.
- **Streaming** (\`POST .../chat/stream\`): server-sent events as the agent works:
  \`delta\` text, \`tool\` calls, then \`done\` or \`error\`. Use it for long work, or to show
  progress. Remember the last SSE \`id\` you saw.

\`\`\`sh
curl -s -X POST ${auth} ${json} -d '{"message":"Summarize the files in /workspace"}' ${inst}/chat | jq -r .message.content
\`\`\`

One turn at a time per session: a second message while one runs is a 409
\`turn_in_progress\`. Wait for it (follow the events), use another session
(\`POST .../chat/sessions\`), or abort it (\`POST .../chat/abort\` with \`session_id\`).

## 3. Resync after a reconnect

A turn completes and is stored even if your connection drops. Every chat event has a cursor
(the SSE \`id\`, the \`cursor\` field in JSON), increasing per instance. To catch up, ask for
the events after the last cursor you processed, as JSON or as a live SSE stream (the
\`Last-Event-ID\` header works too); nothing is skipped or repeated.

\`\`\`sh
curl -s ${auth} "${inst}/chat/events?after=0&limit=100" | jq -r '.[] | "\\(.cursor) \\(.type)"'
curl -s ${auth} -H 'Accept: text/event-stream' "${inst}/chat/events?after=0&session_id=$(curl -s ${auth} ${inst}/chat/sessions | jq -r '.[0].id')" --max-time 2 || true
curl -s ${auth} "${inst}/chat/messages?tail=true&limit=20"
\`\`\`

The last lines of a session are \`GET .../chat/messages?tail=true\`; use \`before\`/\`after\`
(message \`seq\`) to page.

## 4. Files and commands

Paths are absolute or relative to \`/workspace\`. \`files/read\` returns text as utf8 and
anything binary as base64 (\`encoding\`); larger files: \`files/download\`. Write with
\`files/write\` (parents are created) or stream bytes to \`files/upload?path=\`.
\`terminal/exec\` runs \`sh -c\` with a \`timeout_ms\`; check \`exit_code\` and \`timed_out\`.

\`\`\`sh
curl -s -X POST ${auth} ${json} -d '{"command":"uname -a","timeout_ms":10000}' ${inst}/terminal/exec | jq -r .stdout
\`\`\`

## 5. What the errors mean

Every error is \`{"message", "code", "status"}\`; branch on \`code\` (the full list is at
the end of ${origin}/llms-full.md).

| status | meaning | what to do |
|---|---|---|
| 401 | missing, unknown, revoked or expired key | get a new key at ${origin}/account |
| 403 | not allowed: no subscription or invite, plan limit, or a path the instance user may not touch | do not retry; ask the human or change the request |
| 404 | no such instance/session/path, or not yours | re-list; never guess ids |
| 409 | wrong state: \`instance_not_ready\` (wait for \`ready\`), \`turn_in_progress\`, file conflicts | wait or fix the state, then retry |
| 413 | body or file too large | use streamed upload/download, or split |
| 422 | invalid input; \`details.issues\` says which field | fix the request |
| 429 | rate limited | wait \`Retry-After\` seconds |
| 503 | no capacity, or the instance/agent/model is unavailable for now | back off and retry |
| 504 | the agent or model took too long | retry, or ask for less |

## 6. Tools that do this for you

- The skill bundle: ${origin}/skills/clawport.tar.gz (\`SKILL.md\` and a dependency-free
  \`clawport.mjs\`, configured by \`OPENCLAW_API_KEY\`, \`OPENCLAW_API_BASE_URL\`,
  \`OPENCLAW_INSTANCE_ID\`).
- The \`clawport\` CLI and \`clawport mcp\` (an MCP server over stdio or streamable HTTP).
- The TypeScript SDK \`@clawport/sdk\`, generated from ${api}/openapi.json.
`
}
