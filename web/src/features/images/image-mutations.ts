import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useApi } from '../../lib/api-context';
import type { LikeState, PublicImage } from '../../lib/api-types';
import { keys } from '../../lib/queries';

// Liking (shown at once, undone if the server refuses), editing and deleting an image.

export function useLikeToggle(imageId: string) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (like: boolean) =>
      api.request<LikeState>(`/${encodeURIComponent(imageId)}/like`, { method: like ? 'POST' : 'DELETE' }),
    onMutate: async (like) => {
      await queryClient.cancelQueries({ queryKey: keys.likeState(imageId) });
      const before = queryClient.getQueryData<LikeState>(keys.likeState(imageId));
      if (before && before.liked !== like) queryClient.setQueryData<LikeState>(keys.likeState(imageId), { liked: like, likes: Math.max(0, before.likes + (like ? 1 : -1)) });
      return { before };
    },
    onError: (_error, _like, context) => {
      if (context?.before) queryClient.setQueryData(keys.likeState(imageId), context.before);
    },
    onSuccess: (state) => {
      queryClient.setQueryData(keys.likeState(imageId), { liked: state.liked, likes: state.likes });
      queryClient.setQueryData<PublicImage>(keys.image(imageId), (image) => (image ? { ...image, likes: state.likes } : image));
    },
    // Likes steer recommendations and list counts.
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.recommendations }),
  });
}

export interface ImageEdit {
  title: string;
  description: string;
  tags: string[];
}

export function useEditImage(imageId: string) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (edit: ImageEdit) => api.request(`/${encodeURIComponent(imageId)}`, { method: 'PATCH', json: edit }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: keys.images });
      await queryClient.invalidateQueries({ queryKey: ['tags'] });
    },
  });
}

export function useDeleteImage(imageId: string) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () => api.request(`/${encodeURIComponent(imageId)}`, { method: 'DELETE' }),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: keys.image(imageId) });
      void queryClient.invalidateQueries({ queryKey: keys.images });
      void queryClient.invalidateQueries({ queryKey: keys.me });
      void queryClient.invalidateQueries({ queryKey: ['tags'] });
    },
  });
}
