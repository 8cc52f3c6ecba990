import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useState } from 'react';
import { RouterProvider } from 'react-router';
import { createApiClient, type ApiClient } from '../lib/api-client';
import { ApiProvider } from '../lib/api-context';
import { ApiError } from '../lib/api-error';
import { keys } from '../lib/queries';
import { createAppRouter } from './router';

// Server state lives in TanStack Query only; this is its one configuration.

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 30_000,
        refetchOnWindowFocus: false,
        // Only failures that may pass are tried again; a 4xx will answer the same.
        retry: (count, error) => count < 2 && (!(error instanceof ApiError) || error.status === 0 || error.status >= 500),
      },
    },
  });
}

export function createAppClients(): { queryClient: QueryClient; api: ApiClient } {
  const queryClient = createQueryClient();
  const api = createApiClient({ onSignedOut: () => queryClient.setQueryData(keys.me, null) });
  return { queryClient, api };
}

export function App() {
  const [{ queryClient, api }] = useState(createAppClients);
  const [router] = useState(createAppRouter);
  return (
    <ApiProvider client={api}>
      <QueryClientProvider client={queryClient}>
        <RouterProvider router={router} />
      </QueryClientProvider>
    </ApiProvider>
  );
}
