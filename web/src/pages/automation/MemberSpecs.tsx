import { Field } from '../../components/ui'

/** A new member's role and instructions (sent to its agent once it is ready); both optional. */
export interface MemberSpec {
  role: string
  instructions: string
}

/** The specs as the API takes them: trimmed, empty fields left out. */
export function specsBody(specs: MemberSpec[]): Array<{ role?: string; instructions?: string }> {
  return specs.map((s) => ({
    ...(s.role.trim() ? { role: s.role.trim() } : {}),
    ...(s.instructions.trim() ? { instructions: s.instructions } : {}),
  }))
}

/** Grows or shrinks the list to `n` specs, keeping what was typed. */
export function resized(specs: MemberSpec[], n: number): MemberSpec[] {
  const count = Math.max(0, Math.min(100, Number.isFinite(n) ? n : 0))
  return Array.from({ length: count }, (_, i) => specs[i] ?? { role: '', instructions: '' })
}

/** Role and instructions for members `first`, `first + 1`, ... (numbered from 1), folded away until opened. */
export function MemberSpecs({
  specs,
  first,
  onChange,
}: {
  specs: MemberSpec[]
  first: number
  onChange: (specs: MemberSpec[]) => void
}) {
  if (specs.length === 0) return null
  const set = (i: number, patch: Partial<MemberSpec>) =>
    onChange(specs.map((s, j) => (j === i ? { ...s, ...patch } : s)))
  return (
    <details className="member-specs">
      <summary>
        Roles and instructions{' '}
        {specs.length === 1 ? `of member ${first}` : `of members ${first} to ${first + specs.length - 1}`}
      </summary>
      {specs.map((s, i) => {
        const n = first + i
        return (
          <div key={n} className="row">
            <div>
              <Field label={`Role of member ${n}`}>
                {(id) => (
                  <input
                    id={id}
                    maxLength={200}
                    value={s.role}
                    onChange={(e) => set(i, { role: e.target.value })}
                  />
                )}
              </Field>
            </div>
            <div className="grow">
              <Field label={`Instructions for member ${n}`} hint="Sent to its agent once it is ready">
                {(id) => (
                  <textarea
                    id={id}
                    rows={2}
                    maxLength={20000}
                    value={s.instructions}
                    onChange={(e) => set(i, { instructions: e.target.value })}
                  />
                )}
              </Field>
            </div>
          </div>
        )
      })}
    </details>
  )
}
