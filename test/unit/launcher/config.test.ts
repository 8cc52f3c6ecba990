import { describe, expect, it } from 'vitest';
import { loadLauncherConfig } from '../../../src/launcher/config.js';
import { pgAutoctlEnv } from '../../../src/launcher/postgres-ha.js';
import { resolveLayout } from '../../../src/launcher/layout.js';

describe('the launcher config', () => {
  it('names the layout file from EASEL_CONFIG, and none when it is unset or empty', () => {
    expect(loadLauncherConfig({ EASEL_CONFIG: '/etc/easel.json', PATH: '/bin' }).EASEL_CONFIG).toBe('/etc/easel.json');
    expect(loadLauncherConfig({ EASEL_CONFIG: '', PATH: '/bin' }).EASEL_CONFIG).toBeUndefined();
    expect(loadLauncherConfig({ PATH: '/bin' }).EASEL_CONFIG).toBeUndefined();
  });

  it('keeps the environment children start from, frozen, with a PATH even when none was set', () => {
    const config = loadLauncherConfig({ HOME: '/home/ada', LANG: 'C.UTF-8', NOT_SET: undefined });
    expect(config.childEnvironment).toEqual({ HOME: '/home/ada', LANG: 'C.UTF-8', PATH: expect.stringContaining('/usr/bin') });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.childEnvironment)).toBe(true);
  });

  it('puts PostgreSQL\'s bin directory in front of the PATH pg_autoctl gets', () => {
    const layout = resolveLayout({ postgres: { binDir: '/opt/pg/bin' } });
    expect(pgAutoctlEnv(layout, loadLauncherConfig({ PATH: '/usr/bin:/bin' })).PATH).toBe('/opt/pg/bin:/usr/bin:/bin');
  });
});
