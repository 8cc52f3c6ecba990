import { describeError } from '../lib/api-error';

/** An error in words, announced to screen readers, with a way to try again when there is one. */
export function ErrorMessage({ error, onRetry, title = 'That did not work' }: { error: unknown; onRetry?: () => void; title?: string }) {
  return (
    <div className="notice notice-error" role="alert">
      <p>
        <strong>{title}.</strong> {describeError(error)}
      </p>
      {onRetry ? (
        <button type="button" className="button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}
