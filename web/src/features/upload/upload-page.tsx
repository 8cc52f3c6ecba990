import { Link, useNavigate } from 'react-router';
import { ErrorMessage } from '../../components/error-message';
import { usePageTitle } from '../../components/page-title';
import { useMe } from '../auth/session';
import { UploadForm } from './upload-form';

export function UploadPage() {
  usePageTitle('Upload');
  const me = useMe();
  const navigate = useNavigate();
  return (
    <section className="page narrow">
      <h1>Upload an image</h1>
      {me.isPending ? <p className="muted" role="status">Loading…</p> : null}
      {me.isError ? <ErrorMessage error={me.error} onRetry={() => void me.refetch()} /> : null}
      {me.data === null ? (
        <p>
          <Link to="/login?next=%2Fupload">Log in</Link> or <Link to="/signup?next=%2Fupload">sign up</Link> to share your art.
        </p>
      ) : null}
      {me.data ? <UploadForm onUploaded={(imageId) => navigate(`/images/${imageId}`)} /> : null}
    </section>
  );
}
