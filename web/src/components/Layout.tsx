import type { ReactNode } from 'react'
import { useAuth } from '../auth'
import { Link, usePath } from '../router'

const NAV = [
  { href: '/instances', label: 'Instances' },
  { href: '/swarms', label: 'Swarms' },
  { href: '/pipelines', label: 'Pipelines' },
  { href: '/account', label: 'Account' },
  { href: '/docs', label: 'Docs' },
]

/** The frame of every signed-in page: the top bar with navigation and sign-out. */
export function Layout({ children }: { children: ReactNode }) {
  const path = usePath()
  const { me, signOut } = useAuth()
  const nav = me?.is_admin ? [...NAV, { href: '/admin', label: 'Admin' }] : NAV
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/instances" className="brand" aria-label="Clawport home">
          <img src="/favicon.svg" alt="" width={24} height={24} />
          <span>Clawport</span>
        </Link>
        <nav aria-label="Main">
          {nav.map((n) => (
            <Link key={n.href} href={n.href} aria-current={path.startsWith(n.href) ? 'page' : undefined}>
              {n.label}
            </Link>
          ))}
        </nav>
        {me ? (
          <div className="who">
            <span className="email" title={me.email}>
              {me.email}
            </span>
            <button type="button" className="secondary small" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        ) : (
          <div className="who">
            <Link href="/instances">Sign in</Link>
          </div>
        )}
      </header>
      <main id="main">{children}</main>
    </>
  )
}
