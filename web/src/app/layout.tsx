import { useEffect, useRef } from 'react';
import { Link, NavLink, Outlet, useLocation, useNavigate } from 'react-router';
import { useLogout, useMe } from '../features/auth/session';
import { ErrorMessage } from '../components/error-message';

// Every page's frame: a skip link, the header with the navigation and the session, the page.

export function Layout() {
  const me = useMe();
  const logout = useLogout();
  const navigate = useNavigate();
  const { pathname } = useLocation();
  const main = useRef<HTMLElement>(null);
  const firstPage = useRef(true);
  // After a move to another page, focus goes to its content, so a screen reader starts there.
  useEffect(() => {
    if (firstPage.current) {
      firstPage.current = false;
      return;
    }
    main.current?.focus({ preventScroll: false });
  }, [pathname]);
  return (
    <>
      <a className="skip-link" href="#content">Skip to content</a>
      <header className="site-header">
        <Link to="/" className="brand">Easel</Link>
        <nav aria-label="Main">
          <ul>
            <li><NavLink to="/" end>Home</NavLink></li>
            <li><NavLink to="/tags">Tags</NavLink></li>
            <li><NavLink to="/upload">Upload</NavLink></li>
            {me.data ? <li><NavLink to="/me">My images</NavLink></li> : null}
          </ul>
        </nav>
        <div className="session">
          {me.data ? (
            <>
              <span className="muted">Signed in as <strong>{me.data.name}</strong></span>
              <button type="button" className="button small" disabled={logout.isPending} onClick={() => logout.mutate(undefined, { onSettled: () => navigate('/') })}>
                Log out
              </button>
            </>
          ) : me.data === null ? (
            <>
              <NavLink to="/login">Log in</NavLink>
              <NavLink to="/signup" className="button small primary">Sign up</NavLink>
            </>
          ) : null}
        </div>
      </header>
      {me.isError ? <ErrorMessage error={me.error} title="Your session could not be checked" onRetry={() => void me.refetch()} /> : null}
      <main id="content" ref={main} tabIndex={-1}>
        <Outlet />
      </main>
      <footer className="site-footer muted">Easel: share your art, find what you love.</footer>
    </>
  );
}
