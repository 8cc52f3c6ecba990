import { useId, useRef, useState, type FormEvent } from 'react';
import { ErrorMessage } from '../../components/error-message';
import { nameRule, passwordLength, type Credentials } from './session';

// The form for signing up and logging in: a name and a password, with the sign-up rules checked
// as you submit (the same rules the users service applies).

interface CredentialsFormProps {
  mode: 'signup' | 'login';
  pending: boolean;
  error: unknown;
  onSubmit: (credentials: Credentials) => void;
}

export function CredentialsForm({ mode, pending, error, onSubmit }: CredentialsFormProps) {
  const id = useId();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [problems, setProblems] = useState<{ name?: string; password?: string }>({});
  const nameField = useRef<HTMLInputElement>(null);
  const passwordField = useRef<HTMLInputElement>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const found: { name?: string; password?: string } = {};
    if (mode === 'signup') {
      if (!nameRule.test(name)) found.name = 'Use 3 to 32 letters, digits, “.”, “-” or “_”.';
      if (password.length < passwordLength.min || password.length > passwordLength.max) {
        found.password = `Use ${passwordLength.min} to ${passwordLength.max} characters; a few words make a good one.`;
      }
    } else {
      if (!name.trim()) found.name = 'Enter your name.';
      if (!password) found.password = 'Enter your password.';
    }
    setProblems(found);
    if (found.name) return nameField.current?.focus();
    if (found.password) return passwordField.current?.focus();
    onSubmit({ name, password });
  };

  return (
    <form className="form narrow" onSubmit={submit} noValidate>
      {error ? <ErrorMessage error={error} title={mode === 'signup' ? 'Could not sign you up' : 'Could not log you in'} /> : null}
      <div className="field">
        <label htmlFor={`${id}-name`}>Name</label>
        <input
          ref={nameField}
          id={`${id}-name`}
          name="name"
          autoComplete="username"
          value={name}
          onChange={(event) => setName(event.target.value)}
          aria-invalid={problems.name ? true : undefined}
          aria-describedby={problems.name ? `${id}-name-problem` : mode === 'signup' ? `${id}-name-hint` : undefined}
        />
        {mode === 'signup' && !problems.name ? <p id={`${id}-name-hint`} className="hint">Shown with your images. 3 to 32 letters, digits, “.”, “-” or “_”.</p> : null}
        {problems.name ? <p id={`${id}-name-problem`} className="field-problem">{problems.name}</p> : null}
      </div>
      <div className="field">
        <label htmlFor={`${id}-password`}>Password</label>
        <input
          ref={passwordField}
          id={`${id}-password`}
          name="password"
          type="password"
          autoComplete={mode === 'signup' ? 'new-password' : 'current-password'}
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          aria-invalid={problems.password ? true : undefined}
          aria-describedby={problems.password ? `${id}-password-problem` : undefined}
        />
        {problems.password ? <p id={`${id}-password-problem`} className="field-problem">{problems.password}</p> : null}
      </div>
      <button type="submit" className="button primary" disabled={pending}>
        {pending ? (mode === 'signup' ? 'Signing up…' : 'Logging in…') : mode === 'signup' ? 'Sign up' : 'Log in'}
      </button>
    </form>
  );
}
