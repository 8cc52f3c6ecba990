import { useEffect } from 'react';

/** The document title for the page, so tabs, history and screen readers name it. */
export function usePageTitle(title: string | undefined) {
  useEffect(() => {
    document.title = title ? `${title} · Easel` : 'Easel';
  }, [title]);
}
