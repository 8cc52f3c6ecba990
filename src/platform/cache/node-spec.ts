import { invalidArgument } from '../errors.js';

/** One Redis node of the cache ring. `name` places it on the ring; `host:port` only says where it runs. */
export interface CacheNodeSpec {
  name: string;
  host: string;
  port: number;
}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Every problem in a "name=host:port,..." spec (empty when it is valid), one sentence each, so a
 * config loader can report them all at once (e.g. `ctx.addIssue` per problem in a zod transform).
 * IPv6 hosts are written in brackets: "cache-1=[::1]:6380".
 */
export function cacheNodeSpecProblems(spec: string): string[] {
  return parse(spec).problems;
}

/**
 * Parses "cache-1=127.0.0.1:6380,cache-2=127.0.0.1:6381" into node specs, in the given order.
 * Throws AppError INVALID_ARGUMENT naming every bad entry.
 */
export function parseCacheNodes(spec: string): CacheNodeSpec[] {
  const { nodes, problems } = parse(spec);
  if (problems.length > 0) {
    throw invalidArgument(`invalid cache node list: ${problems.join('; ')}`, { details: { problems } });
  }
  return nodes;
}

/** The address part of a node, as written in a spec ("host:port", IPv6 in brackets). */
export function formatCacheNodeAddress(node: Pick<CacheNodeSpec, 'host' | 'port'>): string {
  return node.host.includes(':') ? `[${node.host}]:${node.port}` : `${node.host}:${node.port}`;
}

function parse(spec: string): { nodes: CacheNodeSpec[]; problems: string[] } {
  const nodes: CacheNodeSpec[] = [];
  const problems: string[] = [];
  const entries = spec.split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0);
  if (entries.length === 0) return { nodes, problems: ['no cache nodes given (expected "name=host:port,...")'] };

  const seenNames = new Set<string>();
  const seenAddresses = new Set<string>();
  for (const entry of entries) {
    const equals = entry.indexOf('=');
    if (equals < 0) {
      problems.push(`"${entry}" has no name (expected name=host:port)`);
      continue;
    }
    const name = entry.slice(0, equals).trim();
    const address = entry.slice(equals + 1).trim();
    if (!namePattern.test(name)) {
      problems.push(`"${entry}": node name "${name}" must be letters, digits, ".", "_" or "-", starting with a letter or digit`);
      continue;
    }
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(address);
    if (!match) {
      problems.push(`"${entry}": address "${address}" is not host:port`);
      continue;
    }
    const host = (match[1] ?? match[2])!;
    const port = Number(match[3]);
    if (port < 1 || port > 65535) {
      problems.push(`"${entry}": port ${port} is out of range 1-65535`);
      continue;
    }
    if (seenNames.has(name)) {
      problems.push(`node name "${name}" appears more than once`);
      continue;
    }
    const normalized = formatCacheNodeAddress({ host, port });
    if (seenAddresses.has(normalized)) {
      problems.push(`address ${normalized} is given to more than one node`);
      continue;
    }
    seenNames.add(name);
    seenAddresses.add(normalized);
    nodes.push({ name, host, port });
  }
  return { nodes, problems };
}
