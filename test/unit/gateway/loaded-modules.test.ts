import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

// Every module a gateway worker loads is heap it carries for its whole life (issue 15: each
// process under 120 MB). The gateway has no database: rendering an error must not pull in a
// PostgreSQL client. In a process of its own, watching every module Node resolves.
describe("the gateway's modules", () => {
  it('include no PostgreSQL client', async () => {
    const script = `
      import { registerHooks } from 'node:module';
      const resolved = [];
      registerHooks({ resolve: (specifier, context, next) => { const result = next(specifier, context); resolved.push(result.url); return result; } });
      await import(${JSON.stringify(new URL('../../../src/gateway/app.ts', import.meta.url).href)});
      console.log(JSON.stringify(resolved));
    `;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], { cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
    const resolved = JSON.parse(stdout) as string[];
    // The watch sees the gateway's own dependencies (Fastify)...
    expect(resolved.some((url) => url.includes('/node_modules/fastify/'))).toBe(true);
    // ...and no PostgreSQL client.
    expect(resolved.filter((url) => url.includes('/node_modules/postgres/'))).toEqual([]);
  }, 30_000);
});
