import { patterns } from '../contracts/limits.js';
import { invalidArgument } from '../platform/errors.js';
import type { ListPosition } from './images.repository.js';

// The listing cursor: the last item's (created, id), opaque to clients (base64url JSON).
// A cursor comes back from clients, so it is checked as strictly as we write it: an ISO instant
// in years 1970-9999 (what toISOString gives for our rows; PostgreSQL refuses years past
// 294276) and an image id. Anything else is INVALID_ARGUMENT before a query is made.

const isoInstant = /^(19[7-9]\d|[2-9]\d{3})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.created, position.id])).toString('base64url');
}

export function decodeCursor(cursor: string): ListPosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string'
      && isoInstant.test(value[0]) && new Date(value[0]).toISOString() === value[0] && patterns.imageId.test(value[1])) {
      return { created: value[0], id: value[1] };
    }
  } catch {
    // fall through
  }
  throw invalidArgument('invalid cursor');
}
