import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCluster, type ClusterHandle } from '../../src/launcher/cluster.js';
import { layoutOnFreePorts, type ClusterLayout } from '../../src/launcher/layout.js';
import { repoRoot } from '../../src/launcher/paths.js';
import { testLayoutDefaults } from '../harness/cluster.js';
import { apiClient, defaultTestPassword, type ApiReply } from '../support/api-client.js';
import { makeImage } from '../fixtures/images.js';

// The backup and restore procedure of docs/operations.md, as an operator runs it: data written
// through the public API, `easel backup <dir>`, the cluster stopped and its PostgreSQL data
// deleted (a lost machine), a fresh cluster started on the same layout, `easel restore <dir>`,
// and everything read back through the API: the account logs in with its password (users),
// the image answers with its bytes and words (images), its tags and like are there
// (recommendations).

const cli = join(repoRoot(), 'dist', 'src', 'launcher', 'cli.js');

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The first answer that is not a 503, within 15 s. */
async function settled(request: () => Promise<ApiReply>): Promise<ApiReply> {
  let reply = await request();
  for (const deadline = Date.now() + 15_000; reply.status === 503 && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    reply = await request();
  }
  return reply;
}

describe('easel backup and easel restore', () => {
  const root = join(repoRoot(), '.easel', 'test', `backup-${randomBytes(4).toString('hex')}`);
  const dataDir = join(root, 'cluster');
  const backupDir = join(root, 'backup');
  const layoutFile = join(root, 'layout.json');
  let cluster: ClusterHandle | undefined;

  afterAll(async () => {
    await cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('brings back accounts, images, tags and likes after the databases are lost', async () => {
    mkdirSync(dataDir, { recursive: true });
    // Only what the API needs (no Prometheus, no exporters): the databases are the point.
    const layout: ClusterLayout = await layoutOnFreePorts(testLayoutDefaults(dataDir));
    writeFileSync(layoutFile, JSON.stringify(layout));
    const components = ['redis', 'postgres', 'services'] as const;
    cluster = await startCluster(layout, { components });

    let api = apiClient(cluster.gatewayUrl);
    const name = `backup_${randomBytes(4).toString('hex')}`;
    expect((await settled(() => api.signUp(name, defaultTestPassword))).status).toBe(201);
    const login = await settled(() => api.logIn(name, defaultTestPassword));
    const account = { name, accessToken: login.body.accessToken as string };
    const image = await makeImage('png', 64, 48);
    // One idempotency key: a retry after a 503 (the gateway still learning the instances) stores one image.
    const upload = await settled(() => api.upload(account.accessToken, image, { title: 'Harbour at dawn', description: 'kept', tags: ['seascape', 'dawn'] }, { 'idempotency-key': 'backup-restore-upload' }));
    expect(upload.status).toBe(201);
    const imageId = (upload.body as { imageID: string }).imageID;
    expect((await settled(() => api.request('POST', `/${imageId}/like`, { token: account.accessToken }))).status).toBe(200);
    await api.close();

    const dumped = await runCli(['backup', backupDir, '--config', layoutFile]);
    expect(dumped.stderr).toBe('');
    expect(dumped.code).toBe(0);
    expect(readdirSync(backupDir).sort()).toEqual(['easel-backup.json', 'images.dump', 'recommendations.dump', 'users.dump']);

    // The machine is lost: every database file goes. Secrets stay (they are backed up separately).
    await cluster.stop();
    cluster = undefined;
    rmSync(join(dataDir, 'postgres'), { recursive: true, force: true });
    cluster = await startCluster(layout, { components });
    api = apiClient(cluster.gatewayUrl);
    // Right after a start the gateway may still be learning the new instances (503, Retry-After).
    const lost = await settled(() => api.logIn(account.name, defaultTestPassword));
    expect(lost.status, JSON.stringify(lost.body)).toBe(401);
    expect((await api.get(`/${imageId}/info`)).status).toBe(404);

    const restored = await runCli(['restore', backupDir, '--config', layoutFile]);
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);

    expect((await settled(() => api.logIn(account.name, defaultTestPassword))).status).toBe(200);
    const read = await settled(() => api.get(`/${imageId}`));
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ author: account.name, title: 'Harbour at dawn', description: 'kept', error: '' });
    expect(Buffer.from((read.body as { imageBlob: string }).imageBlob, 'base64').equals(image)).toBe(true);
    const info = await api.get(`/${imageId}/info`);
    expect(info.body).toMatchObject({ tags: expect.arrayContaining(['seascape', 'dawn']), likes: 1 });
    const tags = (await api.get('/tags?prefix=sea')).body as { tags: Array<{ tag: string; count: number }> };
    expect(tags.tags).toContainEqual({ tag: 'seascape', count: 1 });
    await api.close();
  });

  it('refuses a folder that is not a complete backup, before touching any database', async () => {
    const empty = join(root, 'not-a-backup');
    mkdirSync(empty, { recursive: true });
    const result = await runCli(['restore', empty, '--config', layoutFile]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is not an Easel backup');
    expect(existsSync(join(empty, 'users.dump'))).toBe(false);
  });
});
