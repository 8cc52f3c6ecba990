import { describe, expect, it } from 'vitest';
import { distinctPorts } from '../../../src/launcher/specs.js';

describe('ports for one cluster', () => {
  it('never gives the same port twice, even when the kernel hands a released one out again', async () => {
    const offered = [40001, 40002, 40001, 40002, 40003];
    const nextPort = distinctPorts('127.0.0.1', async () => offered.shift()!);
    expect([await nextPort(), await nextPort(), await nextPort()]).toEqual([40001, 40002, 40003]);
  });
});
