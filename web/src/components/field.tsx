import type { ReactNode } from 'react';

// A labelled form field with an optional hint and problem, tied to the control for screen readers.

export function Field({ id, label, hint, problem, children }: { id: string; label: string; hint?: string; problem?: string | undefined; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {hint ? <p id={`${id}-hint`} className="hint">{hint}</p> : null}
      {problem ? <p id={`${id}-problem`} className="field-problem">{problem}</p> : null}
    </div>
  );
}

/** aria-invalid and aria-describedby for a control whose Field has a hint and/or a problem. */
export function described(id: string, problem: string | undefined, hint = false) {
  const ids = [hint ? `${id}-hint` : '', problem ? `${id}-problem` : ''].filter(Boolean).join(' ');
  return { 'aria-invalid': problem ? true : undefined, 'aria-describedby': ids || undefined } as const;
}
