/** What OpenAPI cannot express: the SSE event streams and the WebSocket protocols. */
export const PROTOCOLS = `## Streams and sockets

### Chat turn stream (\`POST /api/instances/{id}/chat/stream\`)

The answer is \`text/event-stream\`. Every event has an \`id:\` line equal to its event cursor
(an integer that increases by one per instance), an \`event:\` name and one \`data:\` line of
JSON. In order:

| event | data | when |
|---|---|---|
| \`session\` | \`{session_id}\` | first, at once |
| \`message\` | \`{message}\` (a ChatMessage, the stored user message) | once |
| \`delta\` | \`{text}\` | any number of times: the assistant's text as it comes |
| \`tool\` | \`{name, status, arguments?, result?}\` | when the agent calls a tool (\`status\` running, completed or failed) |
| \`done\` | \`{message}\` (the stored assistant message) | exactly one of done or error, last |
| \`error\` | \`{message, code}\` (codes as in Error codes, e.g. \`aborted\`, \`upstream_timeout\`) | exactly one of done or error, last |

A comment line (\`: ping\`) comes at least every 15 s. Ignore event names you do not know.
Errors before the stream starts (404, 409, 422) are plain JSON answers. If the connection
drops, the turn still completes and is stored: follow it with \`/chat/events\` from the last
\`id\` you saw.

### Chat events (\`GET /api/instances/{id}/chat/events\`)

With \`Accept: text/event-stream\` (or \`?stream=true\`): every stored event after the cursor
(\`after=\`, or the \`Last-Event-ID\` header on a reconnect), then live ones, with the same
names and data as the turn stream (each \`data\` also carries \`session_id\`), never a gap or a
duplicate across reconnects. Without it: a JSON array of ChatEvent \`{cursor, session_id,
type, data, created_at}\` after the cursor, at most \`limit\`, waiting up to \`wait_ms\` for
the first one (long polling). Keep the highest \`cursor\` you processed and pass it as
\`after\` next time.

### Instance lifecycle events (\`GET /api/instances/{id}/events\`)

Same recipe as chat events: a JSON array of LifecycleEvent \`{cursor, instance_id, type,
reason, data, created_at}\` after \`after=\` (with \`wait_ms\` to long-poll), or with
\`Accept: text/event-stream\` the stored ones then live ones, \`id:\` the cursor and
\`event:\` the type, resumed with \`Last-Event-ID\`. Types include \`crashed\` (\`data.exit_code\`,
\`data.signal\`, \`data.oom_killed\`), \`oom_killed\`, \`start_timeout\`, \`restarted\`,
\`runaway_processes_killed\` (the host ended the instance's commands, terminals and gateway
because they kept it at its process or memory limit: \`data.reason\` \`pids_limit\` or
\`memory_limit\`, \`data.processes_killed\`; the instance answers again at once) and every
status (\`starting\`, \`ready\`, \`stopped\`, \`error\`, ...); ignore types you do not know.

### Webhooks (\`POST /api/webhooks\`)

Each of your instances' events whose type the webhook asks for is POSTed to its URL as that
JSON event (plus \`id: "evt_<cursor>"\`), with headers \`X-Clawport-Event\`, \`X-Clawport-Delivery\`
(one id per delivery, the same on retries) and \`X-Clawport-Signature: t=<unix seconds>,v1=<hex>\`:
\`v1\` is HMAC-SHA256 keyed with the webhook's secret (shown once, in the create answer) over
\`<t>.<raw body>\`. Verify it with a constant-time compare and refuse an old \`t\`. Anything
but a 2xx within 10 s is retried with exponential backoff (1 s, then 4x each time, 8 attempts);
\`GET /api/webhooks/{id}/deliveries\` is the log. Redirects are not followed.

### Chat channels (\`/api/instances/{id}/channels/{name}\`)

\`PUT\` stores a channel (\`telegram\`; \`GET /api/instances/{id}/channels\` lists them), its
token sealed and never answered again (\`token_set\`). The instance's OpenClaw starts it at
its next start: until then \`state\` is \`restart_required\`; a running one reports
\`connected\`, \`pairing\` (connected, with DM pairing requests waiting), \`starting\`,
\`error\` (\`reason\` says why, e.g. the network policy refused the connection) or
\`stopped\`. The bot reaches its service from inside the instance: it needs a network.
With \`dm_policy: "pairing"\` a sender the bot does not know gets a code and waits up to an
hour (3 at most at once): list them with \`GET .../pairing\` and approve or dismiss each by
its \`request_id\` (\`POST .../pairing/{request_id}/approve\`); 404
\`pairing_request_not_found\` once it expired or was decided, 409 \`channel_not_running\`
while the agent does not run the channel.

### Terminal (\`GET /api/instances/{id}/terminal/ws\`, WebSocket)

Authenticate with \`Authorization: Bearer <key>\`, or (browsers) \`?ticket=\` from
\`POST /api/instances/{id}/ws-ticket\` (single use, 60 s). Query: \`cols\`, \`rows\`,
\`session_id\` (to reattach).

- Binary frames: raw terminal bytes, both ways (what you type; what the shell prints).
- Text frames: JSON control messages. The server sends \`{"type":"ready","session_id":"..."}\`
  first and \`{"type":"exit","code":N}\` when the shell ends. The client may send
  \`{"type":"resize","cols":N,"rows":N}\`.
- A session outlives its socket for 15 minutes: reconnect with \`?session_id=\` to get the
  recent output (up to 512 KiB) replayed and continue. \`DELETE .../terminal/sessions/{sid}\`
  ends it.
- Close code 4001: the instance stopped; 4003: the key or dashboard sign-in that opened the
  socket was revoked, signed out or expired (a ticket of a revoked key is refused too; event
  streams of that credential end as well). Refusals (401, 404, 409) come as HTTP answers
  before the upgrade.

### Desktop (\`GET /api/instances/{id}/vnc/ws\`, WebSocket)

Binary frames carry the RFB (VNC) protocol both ways with security type None (the socket is
already authenticated, as for the terminal); noVNC connects to it directly. For a single
image use \`GET .../desktop/screenshot\` (PNG).

### The agent's memory and browser

The agent in every instance has OpenClaw's \`memory_search\` and \`memory_get\` tools over
\`MEMORY.md\` and \`memory/*.md\` in its workspace (write notes there with
\`POST .../files/write\`), and a \`browser\` tool. Memory search is semantic when an embedding
model is configured (the operator's \`CLAWPORT_EMBEDDING_MODEL\`, or \`embedding_model\` in
\`PUT /api/me/model\`, served at your \`base_url\` with your key; \`GET /api/me/model\` shows
\`embedding_model\` and \`embedding_source\`), keyword-only otherwise; embedding calls are
metered in \`GET /api/me/usage\` like chat, and a changed setting applies at the instance's
next start. The browser is Chromium on the instance's desktop (headless when the server runs
instances without one): watch it over \`/vnc/ws\` or \`GET .../desktop/screenshot\`. It may
open pages the agent serves on the instance's own \`127.0.0.1\`; beyond that the instance's
\`network\` decides what it reaches. In a turn's \`tool\` events, a tool the agent found through
OpenClaw's tool search shows as \`tool_call\` with the tool's name in \`arguments.id\`.
`
