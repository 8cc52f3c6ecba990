import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from './clock.js';

// Service identity: who is calling, proven with the cluster secret (CLUSTER_SECRET, generated
// by the launcher, a compose/Kubernetes secret elsewhere). Every process derives the same
// keys from it with HKDF, one key per purpose, so a token made for one purpose never passes
// as another:
// - service tokens: a JWT (HS256) naming the calling service and instance and the service it is
//   meant for (aud), valid a few minutes. Sent on every registration, heartbeat, report and RPC
//   call; a caller keeps one per callee for most of its lifetime, and a callee remembers the
//   tokens it verified, so the cost per call is one map look-up on each side.
// - user assertions: a JWT the gateway makes for the end user it verified (id, name, session),
//   valid a minute, so a callee acting for a user checks who the user is instead of trusting
//   an id field;
// - answer MACs: discovery and the users service's key list sign what they answer, bound to a
//   nonce the asker chose, so a process that is not part of the cluster cannot answer in their place.
// HMAC rather than per-call asymmetric crypto or mTLS: a few microseconds a call. The limit of
// a shared secret: a process that holds it can speak as any service (docs/security.md).

/** Names the RPC wire and discovery use for these credentials. */
export const serviceAuthHeaders = {
  /** The caller's service token. */
  service: 'x-easel-service-token',
  /** The end user the call acts for (a user assertion). */
  user: 'x-easel-user',
  /** A nonce the asker chose; the answer's MAC covers it. */
  nonce: 'x-easel-nonce',
  /** The answer's MAC over the nonce and the body. */
  answerMac: 'x-easel-answer-mac',
} as const;

/** The name discovery registers under in its own tokens' audience. */
export const discoveryAudience = 'DISCOVERY SERVICE';

export interface ServiceIdentity {
  /** The service's name as discovery knows it, e.g. "USER SERVICE"; the gateway is "GATEWAY". */
  service: string;
  /** The instance, e.g. "users-1". */
  instance: string;
}

export interface VerifiedService extends ServiceIdentity {
  /** Epoch seconds. */
  expiresAt: number;
}

/** The end user a call acts for, as the gateway verified it from an access token. */
export interface ActingUser {
  userId: string;
  name: string;
  sessionId?: string;
}

export interface ServiceCredentialsSettings {
  clusterSecret: string;
  identity: ServiceIdentity;
  clock?: Pick<Clock, 'now'>;
  /** Lifetime of a service token (default 5 minutes). */
  tokenTtlSeconds?: number;
  /** Lifetime of a user assertion (default 60 s). */
  userAssertionTtlSeconds?: number;
}

const tokenHeader = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
/** Longer than any token we make; anything longer is refused before any work. */
const maxTokenLength = 2_048;
/** Verified tokens remembered per process: one per caller instance and audience in practice. */
const maxRememberedTokens = 4_096;
/** Allowed difference between two processes' clocks. */
const clockToleranceSeconds = 30;

export class ServiceCredentials {
  readonly identity: ServiceIdentity;
  private readonly clock: Pick<Clock, 'now'>;
  private readonly tokenTtlSeconds: number;
  private readonly userTtlSeconds: number;
  private readonly serviceKey: Buffer;
  private readonly userKey: Buffer;
  private readonly answerKey: Buffer;
  /** audience -> the token this process sends it, until a fifth of its life is left. */
  private readonly issued = new Map<string, { token: string; renewAt: number }>();
  /** token -> what it proved, for tokens this process verified. */
  private readonly verified = new Map<string, VerifiedService & { audience: string }>();

  constructor(settings: ServiceCredentialsSettings) {
    if (settings.clusterSecret.length < 16) throw new Error('the cluster secret must be at least 16 characters');
    this.identity = Object.freeze({ ...settings.identity });
    this.clock = settings.clock ?? systemClock;
    this.tokenTtlSeconds = settings.tokenTtlSeconds ?? 300;
    this.userTtlSeconds = settings.userAssertionTtlSeconds ?? 60;
    this.serviceKey = deriveKey(settings.clusterSecret, 'easel service token v1');
    this.userKey = deriveKey(settings.clusterSecret, 'easel user assertion v1');
    this.answerKey = deriveKey(settings.clusterSecret, 'easel answer mac v1');
  }

  /** This process's token for `audience` (a service name), made once and reused for most of its lifetime. */
  tokenFor(audience: string): string {
    const nowMs = this.clock.now();
    const cached = this.issued.get(audience);
    if (cached && nowMs < cached.renewAt) return cached.token;
    const issuedAt = Math.floor(nowMs / 1000);
    const expiresAt = issuedAt + this.tokenTtlSeconds;
    const token = sign(this.serviceKey, { iss: this.identity.service, sub: this.identity.instance, aud: audience, iat: issuedAt, exp: expiresAt });
    this.issued.set(audience, { token, renewAt: (expiresAt - this.tokenTtlSeconds / 5) * 1000 });
    return token;
  }

  /** Who sent `token`, if it is a valid service token meant for `audience`; undefined otherwise. */
  verifyService(token: string | undefined, audience: string): VerifiedService | undefined {
    if (!token) return undefined;
    const nowSeconds = this.clock.now() / 1000;
    const known = this.verified.get(token);
    if (known) {
      if (known.audience !== audience || nowSeconds > known.expiresAt + clockToleranceSeconds) return undefined;
      return known;
    }
    const claims = verify(this.serviceKey, token);
    if (!claims) return undefined;
    const { iss, sub, aud, iat, exp } = claims;
    if (typeof iss !== 'string' || typeof sub !== 'string' || typeof aud !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') return undefined;
    if (aud !== audience || nowSeconds > exp + clockToleranceSeconds || iat > nowSeconds + clockToleranceSeconds) return undefined;
    // A token that claims a long life was not made by us: refuse it even with a valid MAC.
    if (exp - iat > 3_600) return undefined;
    const result = { service: iss, instance: sub, expiresAt: exp, audience };
    if (this.verified.size >= maxRememberedTokens) this.forgetExpired(nowSeconds);
    this.verified.set(token, result);
    return { service: iss, instance: sub, expiresAt: exp };
  }

  /** A user assertion for `audience`: the user this process verified, valid a minute at most. */
  assertUser(user: ActingUser, audience: string): string {
    const issuedAt = Math.floor(this.clock.now() / 1000);
    return sign(this.userKey, {
      iss: this.identity.service, aud: audience, sub: user.userId, name: user.name,
      ...(user.sessionId === undefined ? {} : { sid: user.sessionId }),
      iat: issuedAt, exp: issuedAt + this.userTtlSeconds,
    });
  }

  /** The user an assertion names, if it is valid and meant for `audience`. */
  verifyUser(token: string | undefined, audience: string): ActingUser | undefined {
    if (!token) return undefined;
    const claims = verify(this.userKey, token);
    if (!claims) return undefined;
    const { aud, sub, name, sid, iat, exp } = claims;
    const nowSeconds = this.clock.now() / 1000;
    if (aud !== audience || typeof sub !== 'string' || typeof name !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') return undefined;
    if (nowSeconds > exp + clockToleranceSeconds || iat > nowSeconds + clockToleranceSeconds || exp - iat > 600) return undefined;
    return { userId: sub, name, ...(typeof sid === 'string' ? { sessionId: sid } : {}) };
  }

  /** MAC of an answer: binds the body to the nonce the asker sent, so an old answer cannot be replayed. */
  answerMac(nonce: string, body: string | Buffer): string {
    return createHmac('sha256', this.answerKey).update(nonce).update('\n').update(body).digest('base64url');
  }

  verifyAnswer(nonce: string, body: string | Buffer, mac: string | undefined): boolean {
    if (!mac || mac.length > 100) return false;
    return equalStrings(this.answerMac(nonce, body), mac);
  }

  private forgetExpired(nowSeconds: number): void {
    for (const [token, claims] of this.verified) if (nowSeconds > claims.expiresAt + clockToleranceSeconds) this.verified.delete(token);
    // Still full (many live callers): start over rather than grow; tokens are verified again.
    if (this.verified.size >= maxRememberedTokens) this.verified.clear();
  }
}

/** A process's credentials from its configuration: the cluster secret, its service's name and its instance name. */
export function credentialsFor(config: { CLUSTER_SECRET: string; INSTANCE_NAME: string }, service: string, clock?: Pick<Clock, 'now'>): ServiceCredentials {
  return new ServiceCredentials({ clusterSecret: config.CLUSTER_SECRET, identity: { service, instance: config.INSTANCE_NAME }, ...(clock ? { clock } : {}) });
}

/** A fresh nonce for an answer MAC. */
export function newNonce(): string {
  return randomBytes(12).toString('base64url');
}

function deriveKey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'easel cluster', purpose, 32));
}

function sign(key: Buffer, claims: Record<string, unknown>): string {
  const signingInput = `${tokenHeader}.${base64url(JSON.stringify(claims))}`;
  return `${signingInput}.${createHmac('sha256', key).update(signingInput).digest('base64url')}`;
}

/** The claims of a token whose header is exactly ours (no algorithm choice) and whose MAC matches. */
function verify(key: Buffer, token: string): Record<string, unknown> | undefined {
  if (typeof token !== 'string' || token.length > maxTokenLength) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== tokenHeader) return undefined;
  const expected = createHmac('sha256', key).update(`${parts[0]}.${parts[1]}`).digest('base64url');
  if (!equalStrings(expected, parts[2]!)) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? claims as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

function equalStrings(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}
