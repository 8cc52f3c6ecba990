import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../../src/platform/repo-root.js';
import { apiSurfaces, servedDocument } from './openapi-documents.js';

// `npm run docs:openapi`: regenerates docs/openapi.json and docs/discovery-openapi.json from the
// route schemas. Run it after changing a route; the unit test fails until the copies match.

for (const surface of apiSurfaces) {
  const app = await surface.build();
  try {
    await writeFile(join(repoRoot(), surface.file), await servedDocument(app));
    console.log(`wrote ${surface.file}`);
  } finally {
    await app.close();
  }
}
