import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from 'react'
import { get, type Me, post, type SessionState, setUnauthorizedHandler } from './api'

interface Auth {
  state: SessionState | undefined
  me: Me | null
  refresh(): Promise<void>
  signedIn(user: Me): void
  signOut(): Promise<void>
}

const AuthContext = createContext<Auth | null>(null)

export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState | undefined>(undefined)
  const refresh = useCallback(async () => {
    setState(await get<SessionState>('/api/auth/session'))
  }, [])
  useEffect(() => {
    void refresh()
    setUnauthorizedHandler(() => void refresh())
  }, [refresh])
  const value: Auth = {
    state,
    me: state?.user ?? null,
    refresh,
    signedIn: (user) => setState((s) => (s ? { ...s, signed_in: true, setup_required: false, user } : s)),
    async signOut() {
      await post('/api/auth/logout')
      await refresh()
    },
  }
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext)
  if (!auth) throw new Error('useAuth outside AuthProvider')
  return auth
}

/** The signed-in user; pages behind the sign-in only. */
export function useMe(): Me {
  const { me } = useAuth()
  if (!me) throw new Error('not signed in')
  return me
}
