import { infiniteQueryOptions, queryOptions } from '@tanstack/react-query';
import type { ApiClient } from './api-client';
import { ApiError } from './api-error';
import type { ImagePage, LikeState, Limits, Me, PublicImage, TagCount } from './api-types';

// Query keys and fetchers in one place, so a list, its invalidation and its prefetch never drift.

export const keys = {
  me: ['me'] as const,
  limits: ['limits'] as const,
  images: ['images'] as const,
  imageList: (filter: ImageFilter) => ['images', 'list', filter] as const,
  image: (id: string) => ['images', 'detail', id] as const,
  likeState: (id: string) => ['images', 'like', id] as const,
  recommendations: ['images', 'recommendations'] as const,
  tags: (prefix: string) => ['tags', prefix] as const,
};

export interface ImageFilter {
  author?: string;
  tag?: string;
}

export const pageSize = 12;

/** The signed-in person, or null for a visitor (a 401 that a refresh could not mend). */
export const meQuery = (api: ApiClient) =>
  queryOptions({
    queryKey: keys.me,
    queryFn: async (): Promise<Me | null> => {
      try {
        return await api.request<Me>('/me');
      } catch (error) {
        if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') return null;
        throw error;
      }
    },
    staleTime: 30_000,
  });

export const limitsQuery = (api: ApiClient) =>
  queryOptions({ queryKey: keys.limits, queryFn: () => api.request<Limits>('/limits'), staleTime: 10 * 60_000 });

export const imageListQuery = (api: ApiClient, filter: ImageFilter) =>
  infiniteQueryOptions({
    queryKey: keys.imageList(filter),
    queryFn: ({ pageParam, signal }) => {
      const query = new URLSearchParams({ limit: String(pageSize) });
      if (filter.author) query.set('author', filter.author);
      if (filter.tag) query.set('tag', filter.tag);
      if (pageParam) query.set('cursor', pageParam);
      return api.request<ImagePage>(`/images?${query}`, { signal });
    },
    initialPageParam: '',
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });

export const recommendationsQuery = (api: ApiClient) =>
  queryOptions({
    queryKey: keys.recommendations,
    queryFn: async ({ signal }) => (await api.request<{ images: PublicImage[] }>('/recommendations?limit=12', { signal })).images,
  });

export const imageQuery = (api: ApiClient, id: string) =>
  queryOptions({ queryKey: keys.image(id), queryFn: ({ signal }) => api.request<PublicImage>(`/${encodeURIComponent(id)}/info`, { signal }) });

export const likeStateQuery = (api: ApiClient, id: string) =>
  queryOptions({ queryKey: keys.likeState(id), queryFn: ({ signal }) => api.request<LikeState>(`/${encodeURIComponent(id)}/like`, { signal }) });

export const tagsQuery = (api: ApiClient, prefix: string) =>
  queryOptions({
    queryKey: keys.tags(prefix),
    queryFn: async ({ signal }) => {
      const query = new URLSearchParams({ limit: '8' });
      if (prefix) query.set('prefix', prefix);
      return (await api.request<{ tags: TagCount[] }>(`/tags?${query}`, { signal })).tags;
    },
    staleTime: 60_000,
  });

/** Where an image's bytes are. */
export const imageUrl = (id: string, variant: 'thumb' | 'medium' | 'raw') => `/${encodeURIComponent(id)}/${variant}`;

/** A variant's width: it fits inside a square of `side` and is never enlarged (src/images/variants.ts). */
export function variantWidth(image: Pick<PublicImage, 'width' | 'height'>, side: number): number {
  const scale = Math.min(1, side / Math.max(image.width, image.height, 1));
  return Math.max(1, Math.round(image.width * scale));
}

export const variantSides = { thumb: 320, medium: 1280 } as const;
