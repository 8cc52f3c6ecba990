// Import boundaries, checked by `npm run boundaries` (part of `npm run check`) with
// dependency-cruiser. test/unit/boundaries.test.ts plants a breach of each rule in a scratch tree
// and shows it is reported.
//
// The layers: src/platform is the library every process uses and knows nothing of them;
// src/contracts holds the RPC schemas the processes share (they may use the platform's contract
// builder and nothing else); each process folder (the services and the launcher) imports the
// platform, the contracts and itself, never another process. Shipped code never imports tests
// or benchmarks. Type-only imports count: a type reaching across a boundary is a coupling too.

const processes = 'users|images|recommendations|discovery|gateway|launcher';

/** @type {import('dependency-cruiser').IForbiddenRuleType[]} */
export const forbidden = [
  {
    name: 'platform-imports-no-process',
    comment: 'src/platform is shared by every process: it may not import a service, the launcher or the contracts.',
    severity: 'error',
    from: { path: '^src/platform/' },
    to: { path: `^src/(contracts|${processes})/` },
  },
  {
    name: 'contracts-import-only-the-contract-builder',
    comment: 'src/contracts are plain schemas: besides each other they may import only src/platform/rpc/contract.ts.',
    severity: 'error',
    from: { path: '^src/contracts/' },
    to: { path: '^src/', pathNot: ['^src/contracts/', '^src/platform/rpc/contract[.]ts$'] },
  },
  {
    name: 'processes-meet-only-through-contracts',
    comment: 'A service (or the launcher) may not import another one: share the schema in src/contracts, or the code in src/platform.',
    severity: 'error',
    from: { path: `^src/(${processes})/` },
    to: { path: `^src/(${processes})/`, pathNot: '^src/$1/' },
  },
  {
    name: 'src-imports-no-test-or-bench',
    comment: 'What ships (src/, built into dist/) may not depend on tests, fakes, fixtures or benchmarks.',
    severity: 'error',
    from: { path: '^src/' },
    to: { path: '^(test|bench)/' },
  },
  {
    name: 'no-import-cycles',
    comment: 'Modules import each other in one direction only; break a cycle by moving the shared part into a module both import.',
    severity: 'error',
    from: {},
    to: { circular: true },
  },
];

/** @type {import('dependency-cruiser').ICruiseOptions} */
export const options = {
  includeOnly: '^(src|test|bench)/',
  doNotFollow: { path: 'node_modules' },
  tsPreCompilationDeps: true,
  tsConfig: { fileName: 'tsconfig.json' },
  enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.json'] },
};

export default { forbidden, options };
