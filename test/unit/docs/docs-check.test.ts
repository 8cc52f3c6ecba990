import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLauncherConfig } from '../../../src/launcher/config.js';
import { postgresExporterSpecs, redisExporterSpecs } from '../../../src/launcher/exporters.js';
import { defaultLayout } from '../../../src/launcher/layout.js';
import { postgresHaSpecs } from '../../../src/launcher/postgres-ha.js';
import { prometheusSpec } from '../../../src/launcher/prometheus.js';
import { domainServices, redisSpecs } from '../../../src/launcher/specs.js';
import { repoRoot } from '../../../src/platform/repo-root.js';

// The documentation stays true to the repository (part of `npm run check`), for README.md and
// every docs/*.md, whichever branch wrote it:
// - every relative link and image resolves to a file, and every #anchor to a heading;
// - every Mermaid diagram names only files and folders that exist (src/..., test/..., deploy/...)
//   and only processes the launcher runs: nodes of class `process` (`id[gateway]:::process` or
//   `class a,b process`) and names listed in a `%% processes: a, b` comment line.
// See docs/development.md ("Documentation").

const root = repoRoot();
const documents = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

/** Every name a process of the default layout goes by: instances (users-1, redis-3), kinds (users, postgres-monitor), components. */
function launcherProcessNames(): Set<string> {
  const layout = { ...defaultLayout, prometheus: { ...defaultLayout.prometheus, enabled: true }, exporters: { ...defaultLayout.exporters, enabled: true } };
  const specs = [...redisSpecs(layout), ...postgresHaSpecs(layout, loadLauncherConfig({})), ...postgresExporterSpecs(layout), ...redisExporterSpecs(layout), prometheusSpec(layout)];
  const names = new Set<string>(['redis', 'postgres', 'prometheus', 'services']);
  for (const spec of specs) names.add(spec.instance).add(spec.kind);
  layout.discovery.ports.forEach((_, i) => names.add(`discovery-${i + 1}`));
  for (const service of domainServices) for (let i = 1; i <= layout.services[service]; i++) names.add(`${service}-${i}`);
  for (const kind of ['discovery', 'gateway', 'gateway-1', ...domainServices]) names.add(kind);
  return names;
}

/** The text outside fenced code blocks, and the fenced blocks by language. */
function split(markdown: string): { prose: string; blocks: Array<{ lang: string; body: string; line: number }> } {
  const blocks: Array<{ lang: string; body: string; line: number }> = [];
  const prose: string[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*(```+|~~~+)\s*([\w-]*)/.exec(lines[i]!);
    if (!open) {
      prose.push(lines[i]!);
      continue;
    }
    const body: string[] = [];
    const start = i + 1;
    for (i++; i < lines.length && !lines[i]!.trim().startsWith(open[1]!); i++) body.push(lines[i]!);
    blocks.push({ lang: open[2] ?? '', body: body.join('\n'), line: start });
    prose.push('');
  }
  return { prose: prose.join('\n'), blocks };
}

/** GitHub's anchor for a heading. */
export function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of split(markdown).prose.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(match[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** Relative link targets of the prose (inline code removed): [text](target), ![alt](target), [ref]: target, <img src>. */
function linkTargets(prose: string): string[] {
  const text = prose.replace(/`[^`\n]*`/g, '');
  const targets = [
    ...[...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!),
    ...[...text.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1]!),
    ...[...text.matchAll(/<img[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]!),
  ];
  return targets.filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

function brokenLinks(document: string): string[] {
  const path = join(root, document);
  const markdown = readFileSync(path, 'utf8');
  const broken: string[] = [];
  for (const target of linkTargets(split(markdown).prose)) {
    const [file = '', anchor] = decodeURI(target).split('#');
    const resolved = file === '' ? path : resolve(dirname(path), file);
    if (!resolved.startsWith(root)) broken.push(`${target} (outside the repository)`);
    else if (!existsSync(resolved)) broken.push(`${target} (no ${relative(root, resolved)})`);
    else if (anchor && resolved.endsWith('.md') && !anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) broken.push(`${target} (no heading #${anchor})`);
  }
  return broken;
}

/** Repository paths a diagram names, e.g. src/images/upload-flow.ts or deploy/prometheus/rules/. */
function diagramPaths(diagram: string): string[] {
  return [...diagram.matchAll(/(?<![\w/.-])((?:src|test|deploy|bench|web|docs|scripts)\/[\w./-]*)/g)].map((m) => m[1]!.replace(/[.,;:]+$/, ''));
}

/** Process names a diagram claims: `process`-class nodes' labels (first word) and `%% processes:` lists. */
function diagramProcesses(diagram: string): string[] {
  const names: string[] = [];
  const labels = new Map<string, string>();
  for (const match of diagram.matchAll(/\b([\w-]+)\s*(?:\[\[|\[\(|\(\[|\(\(|\[|\(|\{\{|\{|>)\s*"?([^\])}"]+?)"?\s*(?:]]|\)]|]\)|\)\)|]|\)|}}|})(:::[\w-]+)?/g)) {
    labels.set(match[1]!, match[2]!);
    if (match[3] === ':::process') names.push(match[2]!);
  }
  for (const match of diagram.matchAll(/^\s*class\s+([\w-]+(?:\s*,\s*[\w-]+)*)\s+process\s*;?\s*$/gm)) {
    for (const id of match[1]!.split(',')) names.push(labels.get(id.trim()) ?? id.trim());
  }
  for (const match of diagram.matchAll(/^\s*%%\s*processes:\s*(.+)$/gm)) names.push(...match[1]!.split(','));
  return names.map((label) => label.replace(/<br\s*\/?>.*$/i, '').trim().split(/[\s(×]/)[0]!).filter(Boolean);
}

describe.each(documents)('%s', (document) => {
  const markdown = readFileSync(join(root, document), 'utf8');

  it('has no broken relative link or anchor', () => {
    expect(brokenLinks(document)).toEqual([]);
  });

  const diagrams = split(markdown).blocks.filter((block) => block.lang === 'mermaid');
  it.runIf(diagrams.length > 0)('names in its Mermaid diagrams only files and processes that exist', () => {
    const processes = launcherProcessNames();
    const problems: string[] = [];
    for (const { body, line } of diagrams) {
      for (const path of diagramPaths(body)) if (!existsSync(join(root, path))) problems.push(`line ${line}: no ${path}`);
      for (const name of diagramProcesses(body)) if (!processes.has(name)) problems.push(`line ${line}: the launcher runs no process "${name}"`);
    }
    expect(problems).toEqual([]);
  });
});

describe('the documentation check itself', () => {
  it('catches a diagram that names a process or file that is gone', () => {
    const diagram = 'flowchart LR\n  gw[gateway]:::process --> fd[feed ×2]:::process\n  fd --> f[src/feed/app.ts]\n  x[users ×2]\n  class x process\n  %% processes: discovery, thumbnailer';
    expect(diagramProcesses(diagram)).toEqual(['gateway', 'feed', 'users', 'discovery', 'thumbnailer']);
    expect(diagramPaths(diagram)).toEqual(['src/feed/app.ts']);
    const names = launcherProcessNames();
    expect(['gateway', 'users', 'discovery', 'users-2', 'redis-4', 'postgres-monitor', 'prometheus'].every((name) => names.has(name))).toBe(true);
    expect(names.has('feed') || names.has('thumbnailer')).toBe(false);
  });

  it('finds links outside code and makes GitHub\'s anchors', () => {
    expect(linkTargets('see [a](docs/x.md#y) and ![b](img.png "t")\n`[c](no.md)` [ext](https://example.org)\n[r]: ../z.md')).toEqual(['docs/x.md#y', 'img.png', '../z.md']);
    expect(slug('Backup and restore (`easel backup`)')).toBe('backup-and-restore-easel-backup');
  });
});
