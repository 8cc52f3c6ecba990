import { describe, expect, it } from 'vitest';
import { loadImagesConfig } from '../../../src/images/config.js';
import { loadUsersConfig } from '../../../src/users/config.js';
import { ConfigError } from '../../../src/platform/config.js';
import { createFailpoints } from '../../../src/platform/failpoints.js';
import { preparedId } from '../../../src/platform/db/two-phase.js';
import { resolveLayout } from '../../../src/launcher/layout.js';
import { LayoutError } from '../../../src/launcher/errors.js';

// How a cluster chooses its upload transaction protocol, and the test-only failpoints.

const secret = 'unit-test-cluster-secret-0123456789';

describe('UPLOAD_TRANSACTION', () => {
  it('is the saga unless set; 2pc may be chosen; anything else is refused by name', () => {
    expect(loadImagesConfig({ INSTANCE_NAME: 'images-1', CLUSTER_SECRET: secret }).UPLOAD_TRANSACTION).toBe('saga');
    expect(loadImagesConfig({ INSTANCE_NAME: 'images-1', CLUSTER_SECRET: secret, UPLOAD_TRANSACTION: '2pc' }).UPLOAD_TRANSACTION).toBe('2pc');
    expect(() => loadImagesConfig({ INSTANCE_NAME: 'images-1', CLUSTER_SECRET: secret, UPLOAD_TRANSACTION: 'xa' })).toThrow(ConfigError);
    expect(() => loadImagesConfig({ INSTANCE_NAME: 'images-1', CLUSTER_SECRET: secret, UPLOAD_TRANSACTION: 'xa' })).toThrow(/UPLOAD_TRANSACTION/);
  });

  it('the launcher layout carries it (default saga) and refuses an unknown protocol', () => {
    expect(resolveLayout({}).uploadTransaction).toBe('saga');
    expect(resolveLayout({ uploadTransaction: '2pc' }).uploadTransaction).toBe('2pc');
    expect(() => resolveLayout({ uploadTransaction: 'xa' })).toThrow(LayoutError);
  });
});

describe('failpoints', () => {
  it('are off unless EASEL_FAILPOINTS names them', () => {
    expect(loadUsersConfig({ INSTANCE_NAME: 'users-1', CLUSTER_SECRET: secret, SIGNING_KEY_SECRET: secret }).EASEL_FAILPOINTS).toEqual([]);
    expect(loadImagesConfig({ INSTANCE_NAME: 'images-1', CLUSTER_SECRET: secret, EASEL_FAILPOINTS: 'saga.upload.before.publish, 2pc.upload.after.decision' }).EASEL_FAILPOINTS)
      .toEqual(['saga.upload.before.publish', '2pc.upload.after.decision']);
  });

  it('kill the process only at an armed step', () => {
    const deaths: string[] = [];
    let current = '';
    const failpoints = createFailpoints(['saga.upload.after.IndexImage'], undefined, () => deaths.push(current));
    for (const step of ['saga.upload.before.IndexImage', 'saga.upload.after.IndexImage', 'saga.upload.before.publish']) {
      current = step;
      failpoints.hit(step);
    }
    expect(deaths).toEqual(['saga.upload.after.IndexImage']);
  });
});

describe('prepared transaction ids', () => {
  it('name the participant (ids are global to a PostgreSQL server) and accept only a UUID (they are spliced into SQL)', () => {
    const txId = '0b7c6a38-6f0e-4c57-9f43-3a3c1f6f2d10';
    expect(preparedId('users', txId)).toBe(`easel:users:${txId}`);
    expect(preparedId('images', txId)).not.toBe(preparedId('users', txId));
    expect(() => preparedId('users', "x'; drop table users; --")).toThrow();
    expect(() => preparedId("users'", txId)).toThrow();
  });
});
