import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist-bench/', 'node_modules/', '.easel/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', {
        object: 'process', property: 'env',
        message: 'Read the environment only in a config loader (config.ts).',
      }],
    },
  },
  {
    files: ['**/config.ts', 'test/**', 'bench/**', 'src/launcher/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
