import { describe, expect, it } from 'vitest';
import { AppError } from '../../../../src/platform/errors.js';
import { cacheNodeSpecProblems, formatCacheNodeAddress, parseCacheNodes } from '../../../../src/platform/cache/node-spec.js';

describe('parseCacheNodes', () => {
  it('parses name=host:port entries in order, tolerating spaces and a trailing comma', () => {
    expect(parseCacheNodes(' cache-1=127.0.0.1:6380, cache-2=redis.local:6381,cache-3=[::1]:6382,')).toEqual([
      { name: 'cache-1', host: '127.0.0.1', port: 6380 },
      { name: 'cache-2', host: 'redis.local', port: 6381 },
      { name: 'cache-3', host: '::1', port: 6382 },
    ]);
  });

  it('names every bad entry in one INVALID_ARGUMENT error', () => {
    let caught: unknown;
    try {
      parseCacheNodes('127.0.0.1:6380,cache-2=localhost,cache-3=h:70000,cache-4=h:1,cache-4=h:2,cache-5=h:1,-x=h:3');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).code).toBe('INVALID_ARGUMENT');
    const problems = (caught as AppError).details!['problems'] as string[];
    expect(problems).toHaveLength(6);
    expect(problems[0]).toMatch(/"127.0.0.1:6380" has no name/);
    expect(problems[1]).toMatch(/"localhost" is not host:port/);
    expect(problems[2]).toMatch(/port 70000 is out of range/);
    expect(problems[3]).toMatch(/"cache-4" appears more than once/);
    expect(problems[4]).toMatch(/h:1 is given to more than one node/);
    expect(problems[5]).toMatch(/node name "-x"/);
  });

  it('rejects an empty list', () => {
    expect(cacheNodeSpecProblems(' , ')).toEqual(['no cache nodes given (expected "name=host:port,...")']);
    expect(cacheNodeSpecProblems('a=h:1')).toEqual([]);
  });

  it('formats addresses the way they are written', () => {
    expect(formatCacheNodeAddress({ host: '::1', port: 6380 })).toBe('[::1]:6380');
    expect(formatCacheNodeAddress({ host: '10.0.0.1', port: 6380 })).toBe('10.0.0.1:6380');
  });
});
