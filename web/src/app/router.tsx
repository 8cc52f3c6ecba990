import { createBrowserRouter, type RouteObject } from 'react-router';
import { HomePage } from '../features/feed/home-page';
import { Layout } from './layout';
import { NotFoundPage, PageLoading, RouteError } from './route-error';

// The pages. The home feed is in the first bundle; the others load when first visited.

export const routes: RouteObject[] = [
  {
    path: '/',
    Component: Layout,
    ErrorBoundary: RouteError,
    // Shown while the first page's code loads.
    HydrateFallback: PageLoading,
    children: [
      {
        ErrorBoundary: RouteError,
        children: [
          { index: true, Component: HomePage },
          { path: 'images/:id', lazy: async () => ({ Component: (await import('../features/images/image-page')).ImagePage }) },
          { path: 'tags', lazy: async () => ({ Component: (await import('../features/tags/tag-pages')).TagsPage }) },
          { path: 'tags/:tag', lazy: async () => ({ Component: (await import('../features/tags/tag-pages')).TagPage }) },
          { path: 'artists/:name', lazy: async () => ({ Component: (await import('../features/artists/artist-page')).ArtistPage }) },
          { path: 'upload', lazy: async () => ({ Component: (await import('../features/upload/upload-page')).UploadPage }) },
          { path: 'me', lazy: async () => ({ Component: (await import('../features/me/my-images-page')).MyImagesPage }) },
          { path: 'login', lazy: async () => ({ Component: (await import('../features/auth/login-page')).LoginPage }) },
          { path: 'signup', lazy: async () => ({ Component: (await import('../features/auth/login-page')).SignupPage }) },
          { path: '*', Component: NotFoundPage },
        ],
      },
    ],
  },
];

export const basename = '/app';

export function createAppRouter() {
  return createBrowserRouter(routes, { basename });
}
