import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/platform/log.js';
import { createMetricsRegistry } from '../../../src/platform/metrics.js';
import { buildDiscoveryApp } from '../../../src/discovery/app.js';
import { manualClock } from '../../fakes/manual-clock.js';

const apps: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

function build() {
  const clock = manualClock();
  const { app, registry } = buildDiscoveryApp({
    config: { INSTANCE_NAME: 'discovery-test', HOST: '127.0.0.1', LEASE_MS: 5_000, TICKET_TTL_MS: 30_000, DISCOVERY_PEERS: ['127.0.0.1:8501'] },
    logger: createLogger({ name: 'discovery-test', level: 'silent' }),
    metrics: createMetricsRegistry('discovery-test', { defaults: false }),
    clock,
  });
  apps.push(app);
  return { app, registry, clock };
}

describe('discovery HTTP API', () => {
  it('takes serviceName from a JSON body on GET /service, as the original client sends it', async () => {
    const { app } = build();
    await app.inject({ method: 'POST', url: '/service', payload: { serviceName: 'USER SERVICE', host: 'localhost:3799' } });
    const response = await app.inject({ method: 'GET', url: '/service', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ serviceName: 'USER SERVICE' }) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ host: 'localhost:3799', connTicket: expect.any(String) });
  });

  it('accepts a body without a content type', async () => {
    const { app } = build();
    const response = await app.inject({ method: 'POST', url: '/service', payload: '{"serviceName":"USER SERVICE","host":"localhost:3799"}' });
    expect(response.json()).toEqual({ message: 'success', error: '' });
  });

  it('answers bad input with 400 in the original failure shape', async () => {
    const { app } = build();
    const response = await app.inject({ method: 'POST', url: '/service', payload: { serviceName: 'USER SERVICE', host: 'no port' } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ message: 'failure', error: expect.stringContaining('host'), code: 'INVALID_ARGUMENT' });
    const missing = await app.inject({ method: 'GET', url: '/service' });
    expect(missing.statusCode).toBe(400);
  });

  it('refuses a port no process can listen on', async () => {
    const { app } = build();
    for (const host of ['127.0.0.1:99999', '127.0.0.1:0', '127.0.0.1:65536']) {
      const response = await app.inject({ method: 'POST', url: '/service', payload: { serviceName: 'USER SERVICE', host } });
      expect(response.statusCode, host).toBe(400);
      expect(response.json()).toMatchObject({ error: 'host port must be 1-65535', code: 'INVALID_ARGUMENT' });
    }
    expect((await app.inject({ method: 'POST', url: '/service', payload: { serviceName: 'USER SERVICE', host: '127.0.0.1:65535' } })).statusCode).toBe(200);
  });

  it('answers an unknown heartbeat with 404 and a known one with success', async () => {
    const { app, clock } = build();
    const beat = () => app.inject({ method: 'PUT', url: '/service/heartbeat', payload: { serviceName: 'IMAGE SERVICE', host: '127.0.0.1:4000' } });
    expect((await beat()).statusCode).toBe(404);
    await app.inject({ method: 'POST', url: '/service', payload: { serviceName: 'IMAGE SERVICE', host: '127.0.0.1:4000' } });
    clock.advance(4_000);
    expect((await beat()).json()).toEqual({ message: 'success', error: '' });
    clock.advance(4_000);
    const services = (await app.inject({ method: 'GET', url: '/services' })).json();
    expect(services.services['IMAGE SERVICE']).toHaveLength(1);
    clock.advance(1_000);
    expect((await app.inject({ method: 'GET', url: '/services' })).json().services).toEqual({});
  });

  it('lists every instance and the discovery replicas as Prometheus http_sd targets', async () => {
    const { app } = build();
    await app.inject({ method: 'POST', url: '/service', payload: { serviceName: 'USER SERVICE', host: '127.0.0.1:4711' } });
    const targets = (await app.inject({ method: 'GET', url: '/prometheus/targets' })).json();
    expect(targets).toContainEqual({ targets: ['127.0.0.1:4711'], labels: { service: 'USER SERVICE', instance: '127.0.0.1:4711' } });
    expect(targets).toContainEqual({ targets: ['127.0.0.1:8501'], labels: { service: 'DISCOVERY SERVICE', instance: '127.0.0.1:8501' } });
  });

  it('exports the registry size as a metric', async () => {
    const { app } = build();
    await app.inject({ method: 'POST', url: '/service', payload: { serviceName: 'USER SERVICE', host: '127.0.0.1:4711' } });
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/discovery_registered_instances\{service="USER SERVICE"[^}]*\} 1/);
  });
});
