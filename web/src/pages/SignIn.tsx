import { type FormEvent, useState } from 'react'
import { type Me, post } from '../api'
import { useAuth } from '../auth'
import { ErrorNote, Field, useAction } from '../components/ui'
import { Link, useTitle } from '../router'

type Mode = 'login' | 'setup' | 'signup'

/** Sign-in, the first-run password screen, and open sign-up. */
export function SignInPage() {
  const { state, signedIn } = useAuth()
  const [mode, setMode] = useState<Mode>(state?.setup_required ? 'setup' : 'login')
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [apiKey, setApiKey] = useState('')
  const [invite, setInvite] = useState('')
  const { busy, error, setError, run } = useAction()
  // An error belongs to the form that caused it: another form starts clean.
  const switchTo = (next: Mode) => {
    setError(undefined)
    setMode(next)
  }
  useTitle(mode === 'setup' ? 'Set up' : mode === 'signup' ? 'Sign up' : 'Sign in')

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const res = await run(() => {
      if (mode === 'setup') return post<{ user: Me }>('/api/auth/setup', { api_key: apiKey, password })
      if (mode === 'signup')
        return post<{ user: Me }>('/api/auth/signup', { email, password, invite_code: invite || undefined })
      return post<{ user: Me }>('/api/auth/login', { email, password })
    })
    if (res) signedIn(res.user)
  }

  return (
    <main id="main" className="auth-page">
      <form className="card auth-card" onSubmit={submit} aria-labelledby="auth-title">
        <div className="brand big">
          <img src="/favicon.svg" alt="" width={36} height={36} />
          <span>Clawport</span>
        </div>
        {mode === 'setup' ? (
          <>
            <h1 id="auth-title">Welcome: set the administrator password</h1>
            <p className="muted">
              This server has no password for its administrator yet. Prove you run it with the API key printed
              once at its first start, then choose a password.
            </p>
            <Field label="First-start API key" hint="sk_live_… from the server's first output">
              {(id) => (
                <input
                  id={id}
                  name="api_key"
                  autoComplete="off"
                  required
                  value={apiKey}
                  onChange={(e) => setApiKey(e.target.value)}
                />
              )}
            </Field>
          </>
        ) : (
          <>
            <h1 id="auth-title">{mode === 'signup' ? 'Create an account' : 'Sign in'}</h1>
            <Field label="Email">
              {(id) => (
                <input
                  id={id}
                  name="email"
                  type="email"
                  autoComplete="username"
                  required
                  value={email}
                  onChange={(e) => setEmail(e.target.value)}
                />
              )}
            </Field>
          </>
        )}
        <Field
          label={mode === 'login' ? 'Password' : 'New password'}
          hint={mode === 'login' ? undefined : 'At least 8 characters'}
        >
          {(id) => (
            <input
              id={id}
              name="password"
              type="password"
              autoComplete={mode === 'login' ? 'current-password' : 'new-password'}
              minLength={mode === 'login' ? 1 : 8}
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        {mode === 'signup' && (
          <Field label="Invite code (optional)" hint="Puts your account on the invite's plan">
            {(id) => (
              <input id={id} name="invite_code" value={invite} onChange={(e) => setInvite(e.target.value)} />
            )}
          </Field>
        )}
        <ErrorNote error={error} />
        <button type="submit" className="primary wide" disabled={busy}>
          {busy
            ? 'Working…'
            : mode === 'setup'
              ? 'Set password and sign in'
              : mode === 'signup'
                ? 'Create account'
                : 'Sign in'}
        </button>
        <div className="auth-links">
          {mode === 'login' && state?.signup === 'open' && (
            <button type="button" className="link" onClick={() => switchTo('signup')}>
              No account? Sign up
            </button>
          )}
          {mode === 'signup' && (
            <button type="button" className="link" onClick={() => switchTo('login')}>
              Have an account? Sign in
            </button>
          )}
          {mode === 'setup' && (
            <button type="button" className="link" onClick={() => switchTo('login')}>
              Sign in with another account
            </button>
          )}
          <Link href="/docs">API docs</Link>
        </div>
      </form>
    </main>
  )
}
