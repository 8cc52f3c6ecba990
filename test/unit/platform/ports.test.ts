import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, portIsFree } from '../../../src/platform/ports.js';

// Loopback only: nothing leaves the machine.

describe('ports', () => {
  it('finds a port another listener can bind, and sees it taken while one does', async () => {
    const port = await freePort();
    expect(await portIsFree(port)).toBe(true);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      expect(await portIsFree(port)).toBe(false);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await portIsFree(port)).toBe(true);
  });
});
