import { Link, useLocation } from 'react-router';
import { ErrorMessage } from '../../components/error-message';
import { InfiniteImages } from '../../components/infinite-images';
import { usePageTitle } from '../../components/page-title';
import { plural } from '../../lib/format';
import { useMe } from '../auth/session';

/** The signed-in person's images with their upload quota. */
export function MyImagesPage() {
  usePageTitle('My images');
  const me = useMe();
  const notice = (useLocation().state as { notice?: string } | null)?.notice;
  if (me.isPending) return <p className="page muted" role="status">Loading…</p>;
  if (me.isError) return <section className="page"><h1>My images</h1><ErrorMessage error={me.error} onRetry={() => void me.refetch()} /></section>;
  if (!me.data) {
    return (
      <section className="page">
        <h1>My images</h1>
        <p><Link to="/login?next=%2Fme">Log in</Link> to see your images.</p>
      </section>
    );
  }
  const { name, imageCount, quota } = me.data;
  const left = Math.max(0, quota.limit - quota.used);
  return (
    <section className="page">
      <h1>My images</h1>
      {notice ? <p className="notice" role="status">{notice}</p> : null}
      <div className="quota">
        <label htmlFor="quota-meter">Upload quota: {quota.used} of {quota.limit} used</label>
        <meter id="quota-meter" min={0} max={quota.limit} value={quota.used} low={quota.limit * 0.7} high={quota.limit * 0.9} optimum={0} />
        <p className="muted">
          {plural(imageCount, 'image')} shared. {left > 0 ? `Room for ${plural(left, 'more image')}.` : 'Your quota is full: delete an image to make room.'}
        </p>
      </div>
      <p>
        <Link className="button primary" to="/upload">Upload an image</Link>
      </p>
      <InfiniteImages filter={{ author: name }} label="My images" empty={<p>You have not shared any images yet. <Link to="/upload">Upload your first</Link>.</p>} />
    </section>
  );
}
