import type { FastifyInstance, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { invalidArgument } from '../../platform/errors.js';

// Text no person types is refused at the edge, before any route runs: control characters (a NUL
// byte that PostgreSQL cannot store, escape sequences for a log reader's terminal) and the
// Unicode bidirectional overrides and isolates that make a title read differently from what it
// says. Path parameters and the query string may hold none of them; bodies may keep tabs and
// line breaks (a description has paragraphs). One rule for every route, current and future, so
// no field can forget it; the refusal names the field (400, in the route's failure shape).

/** C0 controls except tab, LF and CR; DEL and the C1 controls; bidi embeddings, overrides and isolates. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const forbiddenInBody = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/u;
/** The same with tab, LF and CR too: a query parameter or a path segment is one line. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const forbiddenInLine = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/u;

/** The path of the first string under `value` that `pattern` finds, if any (objects from a parser: depth bounded by the body limit). */
export function findForbiddenText(value: unknown, pattern: RegExp, path: string): string | undefined {
  if (typeof value === 'string') return pattern.test(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findForbiddenText(value[i], pattern, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (pattern.test(key)) return `${path} (a field name)`;
      const found = findForbiddenText(item, pattern, `${path}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

export function checkRequestText(request: Pick<FastifyRequest, 'params' | 'query' | 'body'>): void {
  const found = findForbiddenText(request.params, forbiddenInLine, 'params')
    ?? findForbiddenText(request.query, forbiddenInLine, 'querystring')
    // An image's bytes travel as base64 text, which has no such characters; a regex over megabytes is still linear.
    ?? findForbiddenText(request.body, forbiddenInBody, 'body');
  if (found) throw invalidArgument(`${found} must not contain control characters or bidirectional overrides`);
}

async function inputHygiene(app: FastifyInstance): Promise<void> {
  // preValidation: after the body is parsed (forms included), before the route's schema and handler.
  app.addHook('preValidation', async (request) => checkRequestText(request));
}

export default fastifyPlugin(inputHygiene, { name: 'input-hygiene' });
