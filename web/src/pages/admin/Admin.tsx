import { useAuth } from '../../auth'
import { Link, useTitle } from '../../router'
import { InvitesSection } from './Invites'
import { PlansSection } from './Plans'
import { RunnersSection } from './Runners'
import { UsersSection } from './Users'

const SECTIONS = [
  { id: 'users', label: 'Users' },
  { id: 'plans', label: 'Plans' },
  { id: 'invites', label: 'Invite codes' },
  { id: 'runners', label: 'Runners' },
]

/** Administration: users, plans, invite codes and runners (administrators only). */
export default function AdminPage({ section }: { section: string }) {
  useTitle('Admin')
  const { me } = useAuth()
  if (!me?.is_admin)
    return (
      <section>
        <h1>Admin</h1>
        <p className="error">This page needs an administrator.</p>
      </section>
    )
  return (
    <section>
      <h1>Admin</h1>
      <nav className="tabs" aria-label="Admin sections">
        {SECTIONS.map((s) => (
          <Link
            key={s.id}
            href={`/admin/${s.id}`}
            aria-selected={s.id === section}
            aria-current={s.id === section ? 'page' : undefined}
          >
            {s.label}
          </Link>
        ))}
      </nav>
      {section === 'users' && <UsersSection />}
      {section === 'plans' && <PlansSection />}
      {section === 'invites' && <InvitesSection />}
      {section === 'runners' && <RunnersSection />}
    </section>
  )
}
