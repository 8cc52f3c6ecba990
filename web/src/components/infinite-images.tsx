import { useInfiniteQuery } from '@tanstack/react-query';
import { useEffect, useRef, type ReactNode } from 'react';
import { useApi } from '../lib/api-context';
import { imageListQuery, type ImageFilter } from '../lib/queries';
import { ErrorMessage } from './error-message';
import { ImageGrid } from './image-grid';

// A list of images over the cursor API (GET /images): the next page loads when the end of the
// list scrolls into view, and a "Show more" button does the same for keyboards and screen readers.

export function InfiniteImages({ filter, label, empty, eagerFirst = false }: { filter: ImageFilter; label: string; empty: ReactNode; eagerFirst?: boolean }) {
  const api = useApi();
  const list = useInfiniteQuery(imageListQuery(api, filter));
  const sentinel = useRef<HTMLDivElement>(null);
  const { hasNextPage, isFetchingNextPage, fetchNextPage, isError } = list;

  useEffect(() => {
    const target = sentinel.current;
    if (!target || !hasNextPage || isError || typeof IntersectionObserver === 'undefined') return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting) && !isFetchingNextPage) void fetchNextPage();
    }, { rootMargin: '600px 0px' });
    observer.observe(target);
    return () => observer.disconnect();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage, isError]);

  if (list.isPending) return <p className="muted" role="status">Loading images…</p>;
  if (list.isError && !list.data) return <ErrorMessage error={list.error} title="The images could not be loaded" onRetry={() => void list.refetch()} />;
  const images = list.data.pages.flatMap((page) => page.images);
  if (images.length === 0) return <div className="empty">{empty}</div>;

  return (
    <>
      <ImageGrid images={images} label={label} eagerFirst={eagerFirst} />
      <div ref={sentinel} className="list-end">
        {list.isFetchNextPageError ? <ErrorMessage error={list.error} title="More images could not be loaded" onRetry={() => void fetchNextPage()} /> : null}
        {hasNextPage && !list.isFetchNextPageError ? (
          <button type="button" className="button" onClick={() => void fetchNextPage()} disabled={isFetchingNextPage}>
            {isFetchingNextPage ? 'Loading more…' : 'Show more'}
          </button>
        ) : null}
        {!hasNextPage ? <p className="muted">That is all of them.</p> : null}
      </div>
    </>
  );
}
