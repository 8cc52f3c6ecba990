// Every input limit of the public API and the RPC contracts, in one place: the gateway's route
// schemas refuse what breaks them before any handler runs, the zod contracts and the services
// check the same numbers. Lengths count characters (code points), as JSON Schema's maxLength does.

export const limits = {
  image: {
    title: 100,
    description: 1000,
    /** Tags per image. */
    tags: 10,
    tagLength: 32,
  },
  account: {
    nameMin: 3,
    nameMax: 32,
    passwordMin: 8,
    passwordMax: 128,
    /** A login name longer than this is refused before any hashing (no account can have it). */
    loginNameMax: 256,
  },
  page: {
    /** GET /images */
    images: 100,
    /** GET /tags */
    tags: 200,
    /** GET /recommendations */
    recommendations: 100,
    /** Ids per batch call (GetInfos, LikeCounts). */
    batch: 200,
  },
  /** The opaque listing cursor. */
  cursorLength: 200,
  /** GET /tags?prefix= */
  tagPrefixLength: 100,
  /** The Idempotency-Key header of an upload. */
  idempotencyKeyLength: 200,
  /** Access and refresh tokens as clients send them back. */
  tokenLength: 4096,
  /** Ids between services: user ids (UUIDs), image ids, session ids, upload ids. */
  idLength: 64,
  /** An upload's idempotency key or id as the services pass it on. */
  uploadIdLength: 256,
  /** An entity tag (If-None-Match) passed to the images service. */
  etagLength: 128,
  /** The client's X-Request-Id (anything else gets a fresh one). */
  requestIdLength: 128,
} as const;

/**
 * Bounds for the RPC contracts. zod counts UTF-16 code units where the public limits count
 * code points, so free text gets twice the room on the wire (the service checks the exact limit):
 * the point here is that no field is unbounded, not to restate the rule.
 */
export const wireLimits = {
  title: limits.image.title * 2,
  description: limits.image.description * 2,
  /** A tag as a client sent it, before trimming and lower-casing. */
  rawTag: limits.image.tagLength * 2 + 16,
  name: limits.account.loginNameMax,
  password: limits.account.passwordMax * 2,
  id: limits.idLength,
  uploadId: limits.uploadIdLength,
  token: limits.tokenLength,
  etag: limits.etagLength,
  /** Strings the services send back (types, dates, digests, names). */
  shortText: 256,
} as const;

/** A pattern as JSON Schema writes it (unicode regex source) and, for error messages, what it means. */
export interface NamedPattern {
  readonly source: string;
  readonly meaning: string;
  test(value: string): boolean;
}

export function namedPattern(source: string, meaning: string): NamedPattern {
  const regex = new RegExp(source, 'u');
  return { source, meaning, test: (value) => regex.test(value) };
}

const tagChars = `[\\p{L}\\p{N}_-]{1,${limits.image.tagLength}}`;

export const patterns = {
  /** Image ids are 16 random bytes in base64url: 22 characters. */
  imageId: namedPattern('^[A-Za-z0-9_-]{22}$', 'an image id (22 characters of A-Z, a-z, 0-9, "-" and "_")'),
  /** One tag as stored, after trimming and lower-casing. */
  tag: namedPattern(`^${tagChars}$`, `a tag (1-${limits.image.tagLength} letters, digits, "-" or "_")`),
  /**
   * Tags as a client may send them in one string: comma-separated, spaces around them allowed,
   * empty items ignored, at most `limits.image.tags` of them. Each tag must be followed by a comma
   * or the end, so a run of letters cannot be split in two and matching stays linear.
   */
  tagList: namedPattern(
    `^[\\s,]*(?:${tagChars}\\s*(?:,[\\s,]*|$)){0,${limits.image.tags}}$`,
    `at most ${limits.image.tags} comma-separated tags of 1-${limits.image.tagLength} letters, digits, "-" or "_"`,
  ),
  accountName: namedPattern(`^[A-Za-z0-9_.-]{${limits.account.nameMin},${limits.account.nameMax}}$`, `a name of ${limits.account.nameMin}-${limits.account.nameMax} letters, digits, "_", "." or "-"`),
  /** The listing cursor is base64url. */
  cursor: namedPattern('^[A-Za-z0-9_-]*$', 'a cursor from a previous page'),
} as const;
