import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

// In a process of its own: this test process may load undici's entry (which gives every
// dispatcher its methods), and what matters is a process that loads only src/platform/http-pool.ts.
describe("undici's Pool from its own modules", () => {
  it('can make requests and closes, without undici\'s package entry being loaded', async () => {
    const script = [
      "import { createRequire } from 'node:module';",
      "const { Pool } = await import('./src/platform/http-pool.ts');",
      "const pool = new Pool('http://127.0.0.1:1', { connections: 1 });",
      'const methods = [typeof pool.request, typeof pool.close, typeof pool.destroy];',
      'await pool.close();',
      "const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => /[\\\\/]undici[\\\\/]/.test(path));",
      "console.log(JSON.stringify({ methods, entryLoaded: loaded.some((path) => /[\\\\/]undici[\\\\/]index\\.js$/.test(path)), modules: loaded.length }));",
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], { cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
    const outcome = JSON.parse(stdout) as { methods: string[]; entryLoaded: boolean; modules: number };
    expect(outcome.methods).toEqual(['function', 'function', 'function']);
    expect(outcome.entryLoaded).toBe(false);
    // The entry is 109 modules; Pool and request about 24.
    expect(outcome.modules).toBeGreaterThan(0);
    expect(outcome.modules).toBeLessThan(50);
  });
});
