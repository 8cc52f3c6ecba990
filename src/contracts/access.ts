import type { MethodAccess } from '../platform/rpc/contract.js';
import { usersContract } from './users.js';
import { imagesContract } from './images.js';
import { recommendationsContract } from './recommendations.js';

// Who may call what. Every RPC call carries a service token (src/platform/service-auth.ts);
// on top of that, methods a person starts through the public API take calls from the gateway
// alone (so nobody reaches Users.Login around its rate limit), bookkeeping between services
// from the service that does it, and a method acting for a user requires the gateway's signed
// assertion of that user (its `actingUserField` must name the same user). Methods not listed
// here take calls from any service of the cluster.

/** The gateway's service name in service tokens (it registers nowhere). */
export const gatewayServiceName = 'GATEWAY';

const gateway = [gatewayServiceName] as const;
const images = [imagesContract.serviceName] as const;
/** The participants of an upload transaction ask its coordinator about prepared transactions left behind (docs/transactions.md). */
const participants = [usersContract.serviceName, recommendationsContract.serviceName] as const;

export const usersAccess: Readonly<Record<keyof typeof usersContract.methods & string, MethodAccess>> = {
  Register: { callers: gateway },
  Login: { callers: gateway },
  Refresh: { callers: gateway },
  Logout: { callers: gateway, actingUserField: 'userId' },
  SigningKeys: {},
  // The images service reserves the author's quota during an upload it accepted from the gateway.
  ReserveUpload: { callers: images },
  ReleaseUpload: { callers: images },
  // Two-phase commit: the images service coordinates uploads and deletes.
  PrepareReserveUpload: { callers: images },
  PrepareReleaseUpload: { callers: images },
  CommitPrepared: { callers: images },
  AbortPrepared: { callers: images },
  GetQuota: { callers: gateway, actingUserField: 'userId' },
};

export const imagesAccess: Readonly<Record<keyof typeof imagesContract.methods & string, MethodAccess>> = {
  Upload: { callers: gateway, actingUserField: 'authorId' },
  GetInfo: {},
  Get: {},
  GetVariant: {},
  Modify: { callers: gateway, actingUserField: 'callerId' },
  Delete: { callers: gateway, actingUserField: 'callerId' },
  List: {},
  GetInfos: {},
  CountByAuthor: {},
  TransactionOutcome: { callers: participants },
  Limits: {},
};

export const recommendationsAccess: Readonly<Record<keyof typeof recommendationsContract.methods & string, MethodAccess>> = {
  IndexImage: { callers: images },
  RetagImage: { callers: images },
  UnindexImage: { callers: images },
  PrepareIndexImage: { callers: images },
  PrepareUnindexImage: { callers: images },
  CommitPrepared: { callers: images },
  AbortPrepared: { callers: images },
  RecordView: { callers: gateway, actingUserField: 'userId' },
  // A batch holds many viewers' views (src/gateway/view-batcher.ts): the gateway, which checked
  // each viewer's access token, vouches for them with its own service token.
  RecordViews: { callers: gateway },
  Like: { callers: gateway, actingUserField: 'userId' },
  Unlike: { callers: gateway, actingUserField: 'userId' },
  LikeState: { callers: gateway, actingUserField: 'userId' },
  LikeCounts: {},
  ListTags: {},
  Recommend: { callers: gateway, actingUserField: 'userId' },
};
