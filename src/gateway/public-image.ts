import type { ImageInfo } from '../contracts/images.js';
import type { GatewayDeps } from './deps.js';

// An image's metadata as clients see it: GET /{imgID}/info, GET /images and
// GET /recommendations all answer in this one shape.

export interface PublicImage {
  imageID: string;
  author: string;
  title: string;
  description: string;
  size: number;
  type: string;
  width: number;
  height: number;
  tags: string[];
  likes: number;
  created: string;
}

export function publicImage(info: ImageInfo, likes: number): PublicImage {
  return {
    imageID: info.imageId,
    author: info.author,
    title: info.title,
    description: info.description,
    size: info.size,
    type: info.type,
    width: info.width,
    height: info.height,
    tags: info.tags,
    likes,
    created: info.created,
  };
}

const likeCountsTimeoutMs = 1_000;

/**
 * Like counts, read live from the recommendations service (never cached, so a like shows at
 * once). They are decoration: when they cannot be had, the page still shows, with 0.
 */
export async function likeCounts(deps: Pick<GatewayDeps, 'recommendations' | 'logger'>, imageIds: readonly string[], requestId?: string): Promise<Record<string, number>> {
  if (imageIds.length === 0) return {};
  try {
    return (await deps.recommendations.LikeCounts({ imageIds: [...imageIds] }, { timeoutMs: likeCountsTimeoutMs, ...(requestId ? { requestId } : {}) })).counts;
  } catch (error) {
    deps.logger.debug({ err: error }, 'like counts unavailable; showing 0');
    return {};
  }
}
