// The launcher finds the repository's files (dist/, deploy/) from its root; the gateway needs it
// too (web/dist), so it lives in the platform.
export { repoRoot } from '../platform/repo-root.js';
