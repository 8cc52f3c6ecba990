import type { FastifyRequest } from 'fastify';

/** Who is calling, from a verified access token. */
export interface Caller {
  userId: string;
  name: string;
  /** The access token's id, for revocation on logout. */
  tokenId: string;
  /** Epoch seconds when the access token expires. */
  expiresAt: number;
}

/**
 * Verifies the access token from the `accessToken` cookie, `Authorization: Bearer`, or the body
 * field `accessToken`, locally with the users service's public key, and checks revocation.
 */
export interface AuthCheck {
  /** The caller, or throws AppError UNAUTHENTICATED. */
  require(request: FastifyRequest): Promise<Caller>;
  /** The caller when a valid token is present, otherwise undefined (anonymous). */
  optional(request: FastifyRequest): Promise<Caller | undefined>;
}
