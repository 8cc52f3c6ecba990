import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The users service's password-strength word file, generated (not committed) into src/users/ for
// the tiers that run the TypeScript sources; `npm run build` writes the built service's own.
const passwordWordsSetup = 'test/support/password-words-setup.ts';

// Test tiers, each with its own script: unit (no network, no real sleeps), web (the web app's
// components in happy-dom), integration (real Redis/PostgreSQL started by test/harness), e2e
// (the whole cluster through the launcher, including chaos), security (attacks on real services
// and a real cluster), browser (the built web app in
// Debian's chromium against a whole cluster).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          globalSetup: [passwordWordsSetup],
          testTimeout: 10_000,
        },
      },
      {
        plugins: [react()],
        test: {
          name: 'web',
          include: ['web/test/**/*.test.{ts,tsx}'],
          environment: 'happy-dom',
          setupFiles: ['web/test/setup.ts'],
          testTimeout: 15_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: [passwordWordsSetup, 'test/harness/integration-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'security',
          include: ['test/security/**/*.test.ts'],
          // One cluster for the whole tier (test/security/cluster-setup.ts).
          globalSetup: [passwordWordsSetup, 'test/security/cluster-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 240_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
