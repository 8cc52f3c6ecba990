import { randomUUID } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import type { UsersContract } from '../contracts/users.js';
import { isAppError } from '../platform/errors.js';
import type { RpcContext, RpcHandlers } from '../platform/rpc/server.js';
import { login, logout, refresh, register, type AccountsDeps } from './accounts.js';
import { voteDeadline } from '../platform/db/two-phase.js';
import { currentQuota, prepareReleaseUpload, prepareReserveUpload, releaseUpload, reserveUpload } from './quota.js';
import { noFailpoints, type Failpoints } from '../platform/failpoints.js';

type AuthEvents = Counter<'event' | 'outcome'>;

/** Logs and counts a security-relevant refusal (never the credentials themselves) and passes it on. */
function noteRefusal(context: RpcContext, events: AuthEvents, event: 'register' | 'login' | 'refresh') {
  return (error: unknown): never => {
    if (isAppError(error) && error.code !== 'INTERNAL') {
      const reason = error.details?.reason;
      events.inc({ event, outcome: typeof reason === 'string' ? reason : error.code.toLowerCase() });
      // Reuse of a rotated refresh token means one was stolen: worth a warning.
      context.log[reason === 'reused' ? 'warn' : 'info']({ code: error.code, reason }, `${event} refused`);
    }
    throw error;
  };
}

const userIds = new WeakMap<RpcContext, string>();

/**
 * The id a sign-up request creates its account under, the same for every re-run of the
 * handler (platform/db/failover.ts), so a re-run recognises the account an earlier attempt
 * committed before its connection was cut.
 */
function userIdOf(context: RpcContext): string {
  let id = userIds.get(context);
  if (id === undefined) {
    id = randomUUID();
    userIds.set(context, id);
  }
  return id;
}

/** The Users RPC methods: thin adapters over accounts.ts and quota.ts. */
export function usersHandlers(accounts: AccountsDeps, uploadQuota: number, metrics: Registry, failpoints: Failpoints = noFailpoints): RpcHandlers<UsersContract['methods']> {
  const { repo } = accounts;
  const events: AuthEvents = new Counter({
    name: 'users_auth_events_total',
    help: 'Sign-ups, logins and refreshes by outcome (ok, or why refused)',
    labelNames: ['event', 'outcome'],
    registers: [metrics],
  });
  return {
    Register: async ({ name, password }, context) => {
      const created = await register(accounts, name, password, userIdOf(context), { deadline: context.deadline }).catch(noteRefusal(context, events, 'register'));
      events.inc({ event: 'register', outcome: 'ok' });
      context.log.info({ userId: created.userId }, 'account created');
      return created;
    },
    Login: async ({ name, password }, context) => {
      const pair = await login(accounts, name, password, { deadline: context.deadline }).catch(noteRefusal(context, events, 'login'));
      events.inc({ event: 'login', outcome: 'ok' });
      context.log.info({ userId: pair.userId }, 'logged in');
      return pair;
    },
    Refresh: async ({ refreshToken }, context) => {
      const pair = await refresh(accounts, refreshToken).catch(noteRefusal(context, events, 'refresh'));
      events.inc({ event: 'refresh', outcome: 'ok' });
      context.log.debug({ userId: pair.userId }, 'refresh token rotated');
      return pair;
    },
    Logout: async (request, context) => {
      await logout(accounts, request);
      context.log.info({ userId: request.userId, sessionId: request.sessionId }, 'logged out');
      return {};
    },
    SigningKeys: async () => ({ keys: accounts.signingKeys.published() as Array<Record<string, unknown>> }),
    ReserveUpload: ({ userId, uploadId }) => reserveUpload(repo, uploadQuota, userId, uploadId),
    ReleaseUpload: ({ userId, uploadId, final }) => releaseUpload(repo, uploadQuota, userId, uploadId, final),
    PrepareReserveUpload: async ({ txId, userId, uploadId }, context) => {
      await prepareReserveUpload(repo, uploadQuota, txId, userId, uploadId, { deadline: voteDeadline(context.deadline) });
      failpoints.hit('users.prepared');
      return {};
    },
    PrepareReleaseUpload: async ({ txId, userId, uploadId }, context) => {
      await prepareReleaseUpload(repo, txId, userId, uploadId, { deadline: voteDeadline(context.deadline) });
      failpoints.hit('users.prepared');
      return {};
    },
    CommitPrepared: async ({ txId }) => {
      await repo.commitPrepared(txId);
      return {};
    },
    AbortPrepared: async ({ txId }) => {
      await repo.rollbackPrepared(txId);
      return {};
    },
    GetQuota: ({ userId }) => currentQuota(repo, uploadQuota, userId),
  };
}
