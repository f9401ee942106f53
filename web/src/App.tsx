import { lazy, type ReactElement, Suspense } from 'react'
import { useAuth } from './auth'
import { Layout } from './components/Layout'
import { Spinner } from './components/ui'
import { AccountPage } from './pages/Account'
import { InstancePage } from './pages/Instance'
import { InstancesPage } from './pages/Instances'
import { PipelinesPage } from './pages/Pipelines'
import { SignInPage } from './pages/SignIn'
import { SwarmsPage } from './pages/Swarms'
import { match, navigate, usePath } from './router'

const DocsPage = lazy(() => import('./pages/Docs'))
const AdminPage = lazy(() => import('./pages/admin/Admin'))

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>There is no page here.</p>
    </section>
  )
}

/** Picks the page for the path; everything but the docs needs a sign-in. */
export function App() {
  const path = usePath()
  const { state } = useAuth()
  if (!state)
    return (
      <div className="center">
        <Spinner />
      </div>
    )
  const isDocs = path === '/docs' || path.startsWith('/docs/')
  if (!state.signed_in && !isDocs) return <SignInPage />
  if (path === '/' || path === '/login') {
    navigate('/instances', true)
    return null
  }
  const inst = match('/instances/:id/:tab?', path)
  const admin = match('/admin/:section?', path)
  const pipeline = match('/pipelines/:id?', path)
  let page: ReactElement
  if (isDocs) page = <DocsPage />
  else if (path === '/account') page = <AccountPage />
  else if (path === '/instances') page = <InstancesPage />
  else if (inst) page = <InstancePage id={inst.id as string} tab={inst.tab ?? 'chat'} />
  else if (path === '/swarms') page = <SwarmsPage />
  else if (pipeline) page = <PipelinesPage id={pipeline.id} />
  else if (admin) page = <AdminPage section={admin.section ?? 'users'} />
  else page = <NotFound />
  return (
    <Layout>
      <Suspense fallback={<Spinner />}>{page}</Suspense>
    </Layout>
  )
}
