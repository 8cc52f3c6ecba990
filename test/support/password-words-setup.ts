import { writePasswordWords } from '../../src/users/password-words.js';

// Vitest global setup for the tiers that run the users service from its TypeScript sources
// (unit, integration, security): the password-strength word file the service reads next to
// password-strength.ts is generated, not committed, so it is written into src/users/ (gitignored)
// before any test runs, as `npm run build` writes it into dist/src/users/. Rewritten every run,
// so it follows the installed language packs.
export default function setup(): void {
  writePasswordWords();
}
