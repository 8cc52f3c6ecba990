import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useApi } from '../../lib/api-context';
import { meQuery } from '../../lib/queries';

// The session: who is signed in (GET /me), and signing up, in and out. The tokens themselves
// live in HttpOnly cookies the app never sees.

export function useMe() {
  return useQuery(meQuery(useApi()));
}

export interface Credentials {
  name: string;
  password: string;
}

/** After a change of person everything personal is fetched again (recommendations, like buttons, the quota). */
function useSessionChanged() {
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries();
}

export function useLogin() {
  const api = useApi();
  const changed = useSessionChanged();
  return useMutation({
    mutationFn: (credentials: Credentials) => api.request('/login', { method: 'POST', json: credentials }),
    onSuccess: changed,
  });
}

export function useSignup() {
  const api = useApi();
  const changed = useSessionChanged();
  return useMutation({
    mutationFn: async (credentials: Credentials) => {
      await api.request('/signup', { method: 'POST', json: credentials });
      await api.request('/login', { method: 'POST', json: credentials });
    },
    onSuccess: changed,
  });
}

export function useLogout() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () => api.request('/logout', { method: 'POST' }),
    onSettled: () => {
      queryClient.setQueryData(meQuery(api).queryKey, null);
      void queryClient.invalidateQueries();
    },
  });
}

export const nameRule = /^[A-Za-z0-9_.-]{3,32}$/;
export const passwordLength = { min: 8, max: 128 } as const;
