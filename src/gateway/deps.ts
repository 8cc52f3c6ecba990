import type { Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import type { RpcClient } from '../platform/rpc/client.js';
import type { UsersContract } from '../contracts/users.js';
import type { ImagesContract } from '../contracts/images.js';
import type { RecommendationsContract } from '../contracts/recommendations.js';
import type { GatewayConfig } from './config.js';
import type { SharedState } from './shared-state.js';
import type { ImageCache } from './image-cache.js';
import type { ViewBatcher } from './view-batcher.js';

/** Everything a gateway worker needs; main.ts builds the real ones, tests pass their own. */
export interface GatewayDeps {
  config: GatewayConfig;
  logger: Logger;
  metrics: Registry;
  users: RpcClient<UsersContract['methods']>;
  images: RpcClient<ImagesContract['methods']>;
  recommendations: RpcClient<RecommendationsContract['methods']>;
  sharedState: SharedState;
  /** The image read path (hot tier over the cache ring); app.ts builds it, routes use it. */
  imageCache?: ImageCache;
  /** Views counted here and sent in batches; app.ts builds it and flushes it on close. */
  views?: ViewBatcher;
}
