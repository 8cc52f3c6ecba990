import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cruise, type ICruiseOptions, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

// The import boundaries of .dependency-cruiser.mjs (run by `npm run check`): each rule is shown
// to fire on a small tree planted with one breach, the allowed shapes are shown not to, and the
// real tree is shown to pass.

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const scratch: string[] = [];
// The very rules and options `npm run boundaries` uses (a JavaScript file the CLI loads).
const { forbidden, options } = (await import(pathToFileURL(join(repoRoot, '.dependency-cruiser.mjs')).href)) as { forbidden: IForbiddenRuleType[]; options: ICruiseOptions };

afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

interface Breach {
  rule: string;
  from: string;
  to: string;
  /** For a cycle: the modules around it. */
  cycle?: string[];
}

async function boundaryBreaches(baseDir: string): Promise<Breach[]> {
  const roots = ['src', 'test', 'bench'].filter((root) => existsSync(join(baseDir, root)));
  const tsConfig = extractTSConfig(join(baseDir, 'tsconfig.json'));
  const result = await cruise(
    roots,
    { ...options, baseDir, validate: true, ruleSet: { forbidden }, tsConfig: { fileName: join(baseDir, 'tsconfig.json') } },
    {},
    { tsConfig },
  );
  const output = result.output as ICruiseResult;
  return output.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to, ...(v.cycle ? { cycle: v.cycle.map((step) => step.name) } : {}) }));
}

/** A scratch repository with the given files (path -> source) and the real tsconfig settings. */
function plant(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'easel-boundaries-'));
  scratch.push(dir);
  const all: Record<string, string> = {
    'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, verbatimModuleSyntax: true }, include: ['src', 'test', 'bench'] }),
    // Shapes every tree has, all allowed: the platform, a contract, services that use both.
    'src/platform/log.ts': 'export const log = (line: string) => line;\n',
    'src/platform/rpc/contract.ts': 'export const defineService = (name: string) => ({ name });\n',
    'src/contracts/users.ts': "import { defineService } from '../platform/rpc/contract.js';\nexport const usersContract = defineService('Users');\nexport type UserId = string;\n",
    'src/users/passwords.ts': 'export const hashPassword = (p: string) => p;\n',
    'src/users/app.ts': "import { usersContract } from '../contracts/users.js';\nimport { hashPassword } from './passwords.js';\nimport { log } from '../platform/log.js';\nexport const app = () => log(usersContract.name + hashPassword('x'));\n",
    'src/images/upload-flow.ts': "import type { UserId } from '../contracts/users.js';\nimport { log } from '../platform/log.js';\nexport const upload = (id: UserId) => log(id);\n",
    'src/launcher/cli.ts': "import { log } from '../platform/log.js';\nexport const up = () => log('up');\n",
    'test/fakes/memory-users.ts': "import { hashPassword } from '../../src/users/passwords.js';\nexport const fake = () => hashPassword('y');\n",
    'bench/rpc.bench.ts': "import { app } from '../src/users/app.js';\nimport { fake } from '../test/fakes/memory-users.js';\nexport const run = () => [app(), fake()];\n",
    ...files,
  };
  for (const [path, source] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
  return dir;
}

describe('import boundaries', () => {
  it('allow the platform, the contracts, a service using both, and tests and benchmarks using src', async () => {
    expect(await boundaryBreaches(plant({}))).toEqual([]);
  }, 30_000);

  it.each<[string, Record<string, string>, Breach]>([
    [
      'src importing a test fake',
      { 'src/users/app.ts': "import { fake } from '../../test/fakes/memory-users.js';\nexport const app = () => fake();\n" },
      { rule: 'src-imports-no-test-or-bench', from: 'src/users/app.ts', to: 'test/fakes/memory-users.ts' },
    ],
    [
      'src importing a benchmark',
      { 'src/launcher/cli.ts': "import { run } from '../../bench/rpc.bench.js';\nexport const up = () => run();\n" },
      { rule: 'src-imports-no-test-or-bench', from: 'src/launcher/cli.ts', to: 'bench/rpc.bench.ts' },
    ],
    [
      'a service importing another service',
      { 'src/images/upload-flow.ts': "import { hashPassword } from '../users/passwords.js';\nexport const upload = () => hashPassword('z');\n" },
      { rule: 'processes-meet-only-through-contracts', from: 'src/images/upload-flow.ts', to: 'src/users/passwords.ts' },
    ],
    [
      'a service importing only a type of another service',
      { 'src/images/upload-flow.ts': "import type { app } from '../users/app.js';\nexport type App = typeof app;\n" },
      { rule: 'processes-meet-only-through-contracts', from: 'src/images/upload-flow.ts', to: 'src/users/app.ts' },
    ],
    [
      'the launcher importing a service',
      { 'src/launcher/cli.ts': "import { app } from '../users/app.js';\nexport const up = () => app();\n" },
      { rule: 'processes-meet-only-through-contracts', from: 'src/launcher/cli.ts', to: 'src/users/app.ts' },
    ],
    [
      'the platform importing a service',
      { 'src/platform/log.ts': "import { hashPassword } from '../users/passwords.js';\nexport const log = (line: string) => hashPassword(line);\n" },
      { rule: 'platform-imports-no-process', from: 'src/platform/log.ts', to: 'src/users/passwords.ts' },
    ],
    [
      'the platform importing a contract',
      { 'src/platform/log.ts': "import { usersContract } from '../contracts/users.js';\nexport const log = (line: string) => line + usersContract.name;\n" },
      { rule: 'platform-imports-no-process', from: 'src/platform/log.ts', to: 'src/contracts/users.ts' },
    ],
    [
      'a contract importing more of the platform than the contract builder',
      { 'src/contracts/users.ts': "import { log } from '../platform/log.js';\nexport const usersContract = { name: log('Users') };\nexport type UserId = string;\n" },
      { rule: 'contracts-import-only-the-contract-builder', from: 'src/contracts/users.ts', to: 'src/platform/log.ts' },
    ],
  ])('report %s', async (_what, files, breach) => {
    expect(await boundaryBreaches(plant(files))).toEqual([breach]);
  }, 30_000);

  it('report an import cycle, naming both modules', async () => {
    const breaches = await boundaryBreaches(plant({
      'src/launcher/cluster.ts': "import { serve } from './control.js';\nexport const start = () => serve();\nexport class UnknownInstanceError extends Error {}\n",
      'src/launcher/control.ts': "import { UnknownInstanceError } from './cluster.js';\nexport const serve = () => new UnknownInstanceError();\n",
    }));
    expect(breaches).toHaveLength(1);
    expect(breaches[0]!.rule).toBe('no-import-cycles');
    expect([...breaches[0]!.cycle!].sort()).toEqual(['src/launcher/cluster.ts', 'src/launcher/control.ts']);
  }, 30_000);

  it('pass on the real tree', async () => {
    expect(await boundaryBreaches(repoRoot)).toEqual([]);
  }, 60_000);
});
