import type { Registry } from 'prom-client';
import type { Logger } from '../platform/log.js';
import type { RpcClient } from '../platform/rpc/client.js';
import type { UsersContract } from '../contracts/users.js';
import type { ImagesContract } from '../contracts/images.js';
import type { RecommendationsContract } from '../contracts/recommendations.js';
import type { GatewayConfig } from './config.js';
import type { SharedState } from './shared-state.js';

/** Everything a gateway worker needs; main.ts builds the real ones, tests pass their own. */
export interface GatewayDeps {
  config: GatewayConfig;
  logger: Logger;
  metrics: Registry;
  users: RpcClient<UsersContract['methods']>;
  images: RpcClient<ImagesContract['methods']>;
  recommendations: RpcClient<RecommendationsContract['methods']>;
  sharedState: SharedState;
}
