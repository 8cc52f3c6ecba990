import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { securityHeaders, securityHeadersPlugin } from '../../../src/gateway/plugins/security-headers.js';

const sandboxing = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ['\'none\''], frameAncestors: ['\'none\''], sandbox: [] } },
  crossOriginResourcePolicy: { policy: 'cross-origin' as const },
};

describe('security headers', () => {
  it('are helmet\'s, computed once from the options', () => {
    const headers = securityHeaders(sandboxing);
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['content-security-policy']).toBe('default-src \'none\';frame-ancestors \'none\';sandbox');
    expect(headers['cross-origin-resource-policy']).toBe('cross-origin');
    expect(headers['strict-transport-security']).toMatch(/^max-age=\d+/);
    expect(Object.isFrozen(headers)).toBe(true);
  });

  it('reach every answer (a route, a 404, an error), and a route may set its own policy', async () => {
    const app = Fastify();
    await app.register(securityHeadersPlugin, { helmet: sandboxing });
    app.get('/bytes', async (_request, reply) => reply.type('image/png').send(Buffer.from([1, 2, 3])));
    app.get('/page', async (_request, reply) => reply.header('content-security-policy', 'script-src \'self\'').type('text/html').send('<p>hi</p>'));
    app.get('/broken', async () => {
      throw new Error('boom');
    });
    for (const url of ['/bytes', '/nowhere', '/broken']) {
      const answer = await app.inject({ url });
      expect(answer.headers['x-content-type-options'], url).toBe('nosniff');
      expect(answer.headers['content-security-policy'], url).toContain('sandbox');
      expect(answer.headers['x-powered-by'], url).toBeUndefined();
    }
    const page = await app.inject({ url: '/page' });
    expect(page.headers['content-security-policy']).toBe('script-src \'self\'');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    await app.close();
  });
});
