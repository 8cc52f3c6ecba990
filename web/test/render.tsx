import { QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { createQueryClient } from '../src/app/app';
import { routes } from '../src/app/router';
import { createApiClient, type ApiClient } from '../src/lib/api-client';
import { ApiProvider } from '../src/lib/api-context';
import { keys } from '../src/lib/queries';

// Renders the real app (its routes, providers and API client) at a path, over a given fetch.

export function renderApp(path: string, options: { fetch: typeof fetch; createXhr?: () => XMLHttpRequest }) {
  const queryClient = createQueryClient();
  queryClient.setDefaultOptions({ queries: { ...queryClient.getDefaultOptions().queries, retry: false } });
  const api: ApiClient = createApiClient({
    fetch: options.fetch,
    ...(options.createXhr ? { createXhr: options.createXhr } : {}),
    onSignedOut: () => queryClient.setQueryData(keys.me, null),
  });
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  const view = render(
    <ApiProvider client={api}>
      <QueryClientProvider client={queryClient}>
        <RouterProvider router={router} />
      </QueryClientProvider>
    </ApiProvider>,
  );
  return { ...view, router, queryClient, api };
}
