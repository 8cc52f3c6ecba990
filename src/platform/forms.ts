import type { FastifyInstance, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { errorCode, invalidArgument } from './errors.js';

// Multipart forms become plain bodies before validation: text fields as strings (a repeated
// field as a list), files as Buffers. A route's body schema then checks a form exactly like a
// JSON body, and handlers never parse fields by hand. @fastify/multipart reads the parts (within
// the limits it was registered with); its `attachFieldsToBody` would gather them too, but lets
// the parser's plain errors for a malformed body through as a 500, where they are the client's 400.

async function readForm(request: FastifyRequest): Promise<Record<string, unknown>> {
  const form: Record<string, unknown> = {};
  try {
    for await (const part of request.parts()) {
      let value: unknown;
      if (part.type === 'file') {
        value = await part.toBuffer();
      } else {
        if (part.valueTruncated) throw invalidArgument(`field "${part.fieldname}" is too long`);
        value = part.value;
      }
      // @fastify/multipart refuses field names that are Object.prototype's (e.g. __proto__).
      const earlier = form[part.fieldname];
      form[part.fieldname] = earlier === undefined ? value : [...(Array.isArray(earlier) ? earlier : [earlier]), value];
    }
  } catch (error) {
    // Ours and the plugin's refusals (limits: 413) stand; the parser's plain errors mean the body is malformed.
    if (errorCode(error) !== undefined || typeof (error as { statusCode?: unknown }).statusCode === 'number') throw error;
    throw invalidArgument('malformed multipart body', { cause: error });
  }
  return form;
}

async function formBodies(app: FastifyInstance): Promise<void> {
  app.addHook('preValidation', async (request) => {
    if (request.isMultipart()) request.body = await readForm(request);
  });
}

export default fastifyPlugin(formBodies, { name: 'easel-form-bodies', fastify: '5.x', dependencies: ['@fastify/multipart'] });
