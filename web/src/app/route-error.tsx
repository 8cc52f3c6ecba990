import { isRouteErrorResponse, Link, useRouteError } from 'react-router';
import { describeError } from '../lib/api-error';

/** What a page shows instead of going blank when something on it fails. */
export function RouteError() {
  const error = useRouteError();
  const missing = isRouteErrorResponse(error) && error.status === 404;
  return (
    <section className="page" role="alert">
      <h1>{missing ? 'Page not found' : 'Something went wrong'}</h1>
      <p>{missing ? 'There is no page at this address.' : describeError(error)}</p>
      <p>
        <Link to="/">Go to the home page</Link> or <a href={window.location.href}>reload this page</a>.
      </p>
    </section>
  );
}

export function NotFoundPage() {
  return (
    <section className="page">
      <h1>Page not found</h1>
      <p>There is no page at this address. <Link to="/">Go to the home page</Link>.</p>
    </section>
  );
}

export function PageLoading() {
  return <p className="page muted" role="status">Loading Easel…</p>;
}
