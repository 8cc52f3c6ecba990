import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { ErrorMessage } from '../../components/error-message';
import { ImageGrid } from '../../components/image-grid';
import { InfiniteImages } from '../../components/infinite-images';
import { usePageTitle } from '../../components/page-title';
import { useApi } from '../../lib/api-context';
import { recommendationsQuery } from '../../lib/queries';
import { useMe } from '../auth/session';

// The home feed: recommendations for a signed-in person (popular and newest images for a
// visitor), then every image, newest first, scrolling on.

export function HomePage() {
  usePageTitle(undefined);
  const api = useApi();
  const me = useMe();
  const signedIn = Boolean(me.data);
  const picks = useQuery({ ...recommendationsQuery(api), enabled: !me.isPending });

  return (
    <div className="page">
      <h1 className="visually-hidden">Easel: art by novice artists</h1>
      <section aria-labelledby="picks-heading">
        <h2 id="picks-heading">{signedIn ? 'Recommended for you' : 'Popular and new'}</h2>
        {!signedIn && !me.isPending ? (
          <p className="muted">
            <Link to="/signup">Sign up</Link> to share your art; like images to see more of what you love.
          </p>
        ) : null}
        {picks.isPending ? <p className="muted" role="status">Loading…</p> : null}
        {picks.isError ? <ErrorMessage error={picks.error} title="Recommendations could not be loaded" onRetry={() => void picks.refetch()} /> : null}
        {picks.data && picks.data.length === 0 ? <p className="empty">Nothing here yet. <Link to="/upload">Upload the first image</Link>.</p> : null}
        {picks.data && picks.data.length > 0 ? <ImageGrid images={picks.data} label={signedIn ? 'Recommended images' : 'Popular and new images'} eagerFirst /> : null}
      </section>
      <section aria-labelledby="newest-heading">
        <h2 id="newest-heading">Newest</h2>
        <InfiniteImages filter={{}} label="Newest images" empty={<p>No images yet.</p>} />
      </section>
    </div>
  );
}
