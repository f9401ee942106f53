import { del, get, type Instance, type Me, post } from '../../api'
import { ConfirmButton, Empty, ErrorNote, Spinner, StatusBadge, useLoad } from '../../components/ui'
import { Link } from '../../router'

export type AdminUser = Me & { has_password: boolean; disabled_at: string | null }

/** A user's instances, each a link to its page (administrators open every user's instance). */
export function UserInstances({ user }: { user: AdminUser }) {
  const list = useLoad((s) => get<Instance[]>(`/api/admin/users/${user.id}/instances`, s), [user.id])
  if (list.error) return <ErrorNote error={list.error} />
  if (!list.data) return <Spinner label={`Loading the instances of ${user.email}`} />
  if (list.data.length === 0) return <Empty>{user.email} has no instances.</Empty>
  return (
    <ul aria-label={`Instances of ${user.email}`}>
      {list.data.map((i) => (
        <li key={i.id} data-instance={i.id}>
          <Link href={`/instances/${i.id}`}>{i.name || `Instance ${i.id.slice(0, 8)}`}</Link>{' '}
          <StatusBadge status={i.status} /> <span className="muted mono small">{i.id}</span>
        </li>
      ))}
    </ul>
  )
}

/**
 * Disable (or enable) and delete, each after a confirmation naming the user. `run` reports
 * the result; the server refuses yourself (own_account) and a user who still has instances.
 */
export function UserActions({
  user,
  self,
  run,
}: {
  user: AdminUser
  self: boolean
  run: (action: () => Promise<unknown>, said: string) => void
}) {
  const disabled = !!user.disabled_at
  return (
    <>
      {disabled ? (
        <button
          type="button"
          className="small secondary"
          onClick={() =>
            run(() => post(`/api/admin/users/${user.id}/enable`), `${user.email} is enabled again.`)
          }
        >
          Enable
        </button>
      ) : (
        <ConfirmButton
          className="small secondary"
          disabled={self}
          title={`Disable ${user.email}?`}
          message={
            <p>
              Their API keys and sign-ins stop working at once and they cannot sign in. Their instances and
              data stay; you can enable them again.
            </p>
          }
          confirmLabel="Disable user"
          onConfirm={() =>
            run(
              () => post(`/api/admin/users/${user.id}/disable`),
              `${user.email} is disabled: their keys and sign-ins no longer work.`,
            )
          }
        >
          Disable
        </ConfirmButton>
      )}
      <ConfirmButton
        className="small danger"
        danger
        disabled={self}
        title={`Delete ${user.email}?`}
        message={
          <p>
            The user, their keys, settings, swarms and pipelines are deleted. This cannot be undone. A user
            who still has instances cannot be deleted: delete those first.
          </p>
        }
        confirmLabel="Delete user"
        onConfirm={() => run(() => del(`/api/admin/users/${user.id}`), `${user.email} was deleted.`)}
      >
        Delete
      </ConfirmButton>
    </>
  )
}
