import { get } from '../../api'
import { ErrorNote, Spinner, useLoad } from '../../components/ui'

export interface AdminPlan {
  name: string
  instance_limit: number
  memory_mb: number
  cpus: number
  pids_max: number
  disk_mb: number
  users: number
}

/** Plans come from CLAWPORT_PLANS; this shows them and who is on each. */
export function PlansSection() {
  const { data, error } = useLoad((s) => get<AdminPlan[]>('/api/admin/plans', s), [])
  return (
    <div className="card">
      <p className="muted">
        Plans are set with <code>CLAWPORT_PLANS</code> when the server starts. Put users on a plan on the
        Users page or with an invite code.
      </p>
      <ErrorNote error={error} />
      {!data ? (
        <Spinner />
      ) : (
        <div className="table-wrap">
          <table aria-label="Plans">
            <thead>
              <tr>
                <th>Plan</th>
                <th>Instances</th>
                <th>Memory</th>
                <th>CPUs</th>
                <th>Processes</th>
                <th>Disk</th>
                <th>Users</th>
              </tr>
            </thead>
            <tbody>
              {data.map((p) => (
                <tr key={p.name}>
                  <td>
                    <strong>{p.name}</strong>
                  </td>
                  <td>{p.instance_limit}</td>
                  <td>{p.memory_mb} MB</td>
                  <td>{p.cpus}</td>
                  <td>{p.pids_max}</td>
                  <td>{p.disk_mb} MB</td>
                  <td>{p.users}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}
