// Module hooks that let a plain `node` child process run this repository's TypeScript sources
// (integration tests spawn real service processes to SIGKILL them). Types are stripped with
// TypeScript's own transpiler; "./x.js" imports resolve to "./x.ts" as tsc would.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

export async function resolve(specifier, context, nextResolve) {
  if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    const jsUrl = new URL(specifier, context.parentURL);
    const tsUrl = new URL(`${jsUrl.href.slice(0, -3)}.ts`);
    if (!existsSync(fileURLToPath(jsUrl)) && existsSync(fileURLToPath(tsUrl))) return { url: tsUrl.href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

// Transpiled output is cached by content hash, so most spawns never load TypeScript itself
// (which takes seconds of CPU on a busy machine).
const cacheDir = join(tmpdir(), 'easel-ts-hooks-cache');
let typescript;

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const fileName = fileURLToPath(url);
  const source = await readFile(fileName, 'utf8');
  const cached = join(cacheDir, `${createHash('sha256').update(fileName).update('\0').update(source).digest('hex')}.js`);
  try {
    return { format: 'module', source: await readFile(cached, 'utf8'), shortCircuit: true };
  } catch {
    // not cached yet
  }
  typescript ??= (await import('typescript')).default;
  const output = typescript.transpileModule(source, {
    fileName,
    compilerOptions: { module: typescript.ModuleKind.ESNext, target: typescript.ScriptTarget.ES2022, verbatimModuleSyntax: true, sourceMap: false },
  });
  await mkdir(cacheDir, { recursive: true });
  const temporary = `${cached}.${process.pid}.tmp`;
  await writeFile(temporary, output.outputText);
  await rename(temporary, cached);
  return { format: 'module', source: output.outputText, shortCircuit: true };
}
