import { invalidArgument } from '../platform/errors.js';
import type { ListPosition } from './images.repository.js';

// The listing cursor: the last item's (created, id), opaque to clients (base64url JSON).

export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.created, position.id])).toString('base64url');
}

export function decodeCursor(cursor: string): ListPosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string' && !Number.isNaN(Date.parse(value[0]))) {
      return { created: value[0], id: value[1] };
    }
  } catch {
    // fall through
  }
  throw invalidArgument('invalid cursor');
}
