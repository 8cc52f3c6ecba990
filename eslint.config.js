import js from '@eslint/js';
import jsxA11y from 'eslint-plugin-jsx-a11y';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist-bench/', 'node_modules/', '.easel/', 'web/dist/', 'test-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', {
        object: 'process', property: 'env',
        message: 'Read the environment only in the process\'s config loader (src/<process>/config.ts) and pass the config down.',
      }],
    },
  },
  {
    // undici's package entry loads all of it (about 3 MB of heap per process); src takes Pool from
    // src/platform/http-pool.ts. Types may still come from the entry (they are erased).
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'undici', allowTypeImports: true, message: "Import Pool from src/platform/http-pool.ts: undici's entry loads all of undici into every process." }],
      }],
    },
  },
  {
    // Each process's one config loader (src/*/config.ts); tests and benchmarks build environments
    // of their own; the web app's build configuration names the dev server's API target.
    files: ['src/*/config.ts', 'test/**', 'bench/**', 'web/vite.config.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  // The web app: hooks used by the rules, and accessible markup.
  {
    files: ['web/**/*.{ts,tsx}'],
    ...reactHooks.configs.flat['recommended-latest'],
  },
  {
    files: ['web/**/*.tsx'],
    ...jsxA11y.flatConfigs.recommended,
  },
);
