import { Link, useNavigate, useSearchParams } from 'react-router';
import { usePageTitle } from '../../components/page-title';
import { CredentialsForm } from './credentials-form';
import { useLogin, useSignup } from './session';

/** Where to go after logging in: a path inside the app only, never another site. */
export function safeReturnPath(value: string | null): string {
  return value && value.startsWith('/') && !value.startsWith('//') ? value : '/';
}

export function LoginPage() {
  usePageTitle('Log in');
  const login = useLogin();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeReturnPath(params.get('next'));
  return (
    <section className="page narrow">
      <h1>Log in</h1>
      <CredentialsForm mode="login" pending={login.isPending} error={login.error} onSubmit={(credentials) => login.mutate(credentials, { onSuccess: () => navigate(next) })} />
      <p>
        New to Easel? <Link to={`/signup${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`}>Sign up</Link>
      </p>
    </section>
  );
}

export function SignupPage() {
  usePageTitle('Sign up');
  const signup = useSignup();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeReturnPath(params.get('next'));
  return (
    <section className="page narrow">
      <h1>Sign up</h1>
      <p>Share your art, find artists you like, and see more of what you love.</p>
      <CredentialsForm mode="signup" pending={signup.isPending} error={signup.error} onSubmit={(credentials) => signup.mutate(credentials, { onSuccess: () => navigate(next === '/' ? '/upload' : next) })} />
      <p>
        Already have an account? <Link to="/login">Log in</Link>
      </p>
    </section>
  );
}
