import { useAuth } from '../auth'
import { CopyButton } from '../components/ui'
import { Link, useTitle } from '../router'
import { ApiReference } from './docs/ApiReference'

function Code({ children }: { children: string }) {
  return (
    <div className="code-block">
      <pre>
        <code>{children}</code>
      </pre>
      <CopyButton text={children} />
    </div>
  )
}

/** The readable API guide (with this server's own origin in every example) and the reference. */
export default function DocsPage() {
  useTitle('Docs')
  const { me } = useAuth()
  const origin = location.origin
  const api = `${origin}/api`
  return (
    <article className="docs">
      <h1>Clawport API</h1>
      <p>
        Everything the dashboard does goes through this API. Its base URL is <code>{api}</code>; the whole API
        is described by the <a href="/api/openapi.json">OpenAPI document</a> (also as{' '}
        <a href="/api/openapi.yaml">YAML</a>) and in the reference below.
      </p>
      <nav aria-label="On this page" className="card">
        <a href="#quick-start">Quick start</a> · <a href="#auth">Auth</a> · <a href="#realtime">Realtime</a> ·{' '}
        <a href="#agents">For agents</a> · <a href="#reference">Reference</a>
      </nav>

      <h2 id="quick-start">Quick start</h2>
      <p>
        {me ? (
          <>
            Create a key on your <Link href="/account">account page</Link>, then:
          </>
        ) : (
          'Get an API key from the account page once signed in, then:'
        )}
      </p>
      <Code>{`export OPENCLAW_API_BASE_URL=${api} OPENCLAW_API_KEY=sk_live_...
auth="Authorization: Bearer $OPENCLAW_API_KEY"

# create an instance and wait until it is ready
id=$(curl -s -X POST -H "$auth" $OPENCLAW_API_BASE_URL/instances | jq -r .id)
curl -s -H "$auth" $OPENCLAW_API_BASE_URL/instances/$id        # "status": "ready"

# chat with its agent
curl -s -X POST -H "$auth" -H 'content-type: application/json' \\
  -d '{"message":"What is in my workspace?"}' $OPENCLAW_API_BASE_URL/instances/$id/chat

# run a command, write and read files
curl -s -X POST -H "$auth" -H 'content-type: application/json' \\
  -d '{"command":"uname -a","timeout_ms":10000}' $OPENCLAW_API_BASE_URL/instances/$id/terminal/exec
curl -s -X POST -H "$auth" -H 'content-type: application/json' \\
  -d '{"path":"notes/hello.txt","content":"hi"}' $OPENCLAW_API_BASE_URL/instances/$id/files/write
curl -s -H "$auth" "$OPENCLAW_API_BASE_URL/instances/$id/files/read?path=notes/hello.txt"`}</Code>

      <h2 id="auth">Auth</h2>
      <p>
        Every private endpoint takes <code>Authorization: Bearer sk_live_…</code>. Keys belong to a user and
        see only that user's instances; revoke one on the account page and it stops working at once. Errors
        are JSON <code>{'{"message", "code", "status"}'}</code>: 401 bad key, 403 no access, 404 not found (or
        not yours), 409 not ready, 422 invalid input, 429 rate limited (see <code>Retry-After</code>).
      </p>
      <p>
        The dashboard itself signs in with a session cookie (HTTP-only, SameSite=Lax) and sends an{' '}
        <code>X-CSRF-Token</code> header on every write; scripts should use keys.
      </p>

      <h2 id="realtime">Realtime</h2>
      <ul>
        <li>
          <strong>Streamed chat</strong>: <code>POST /instances/{'{id}'}/chat/stream</code> answers
          server-sent events: <code>session</code>, <code>message</code>, <code>delta</code>,{' '}
          <code>tool</code>, then <code>done</code> or <code>error</code>. Every event has an id (its cursor).
        </li>
        <li>
          <strong>Follow and resume</strong>:{' '}
          <code>GET /instances/{'{id}'}/chat/events?after=&lt;cursor&gt;</code> with{' '}
          <code>Accept: text/event-stream</code> replays what you missed and continues live; reconnect with{' '}
          <code>Last-Event-ID</code>. Turns finish even when the client goes away.
        </li>
        <li>
          <strong>Terminal</strong>: a WebSocket at <code>/instances/{'{id}'}/terminal/ws</code>: binary
          frames are terminal bytes; text frames are JSON (<code>resize</code>, <code>ready</code>,{' '}
          <code>exit</code>).
        </li>
        <li>
          <strong>Desktop</strong>: <code>/instances/{'{id}'}/vnc/ws</code> carries RFB (VNC) for noVNC.
        </li>
        <li>
          Browsers cannot send headers on WebSockets: get a single-use ticket with{' '}
          <code>POST /instances/{'{id}'}/ws-ticket</code> and pass it as <code>?ticket=</code>.
        </li>
      </ul>
      <Code>{`curl -N -X POST -H "$auth" -H 'content-type: application/json' \\
  -d '{"message":"hello"}' ${api}/instances/$id/chat/stream
curl -N -H "$auth" -H 'accept: text/event-stream' "${api}/instances/$id/chat/events?after=0"`}</Code>

      <h2 id="agents">For agents</h2>
      <p>
        An agent can learn this API on its own: <a href="/llms.txt">/llms.txt</a> (an index),{' '}
        <a href="/llms-full.md">/llms-full.md</a> (everything in one file), <a href="/agent.md">/agent.md</a>,
        and the skill bundle at <a href="/skills/clawport/SKILL.md">/skills/clawport/SKILL.md</a> (
        <a href="/skills/clawport.tar.gz">download as .tar.gz</a>).
      </p>
      <Code>{`curl -s ${origin}/llms.txt
curl -s ${api}            # what this server offers, with links`}</Code>

      <h2 id="reference">Reference</h2>
      <ApiReference />
    </article>
  )
}
