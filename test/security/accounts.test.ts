import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../support/api-client.js';
import { freshAddress, gateway, newAccount } from './support.js';

// Issue 12, items 6 and 9 (accounts), against the real cluster: login limits that count before
// they check and cannot be used to lock an owner out, IPv6 counted by /64, sign-ups limited per
// network, sessions per user bounded, weak passwords and look-alike names refused, and a logout
// without a usable access token that still ends the session.

let client: ApiClient;
const password = 'galleries on sunday';
const login = (name: string, pass: string, address: string) => client.request('POST', '/login', { json: { name, password: pass }, headers: { 'x-forwarded-for': address } });
const signUp = (name: string, pass: string, address = freshAddress()) => client.request('POST', '/signup', { json: { name, password: pass }, headers: { 'x-forwarded-for': address } });

beforeAll(() => {
  client = gateway({ connections: 48 });
});
afterAll(async () => {
  await client.close();
});

describe('login limits', () => {
  it('count before they check: of 40 concurrent wrong guesses from one address, at most 10 reach the password check', async () => {
    const { name } = await newAccount(client, 'race');
    const address = freshAddress();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => login(name, `wrong guess ${i} here`, address)));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(30);
    expect(statuses.every((status) => status === 401 || status === 429)).toBe(true);
  });

  it('do not lock the owner out: after ten bad guesses from one address, the owner logs in from another', async () => {
    const { name } = await newAccount(client, 'owner');
    const attacker = freshAddress();
    for (let i = 0; i < 10; i++) expect((await login(name, `nope ${i} nope`, attacker)).status).toBe(401);
    expect((await login(name, password, attacker)).status).toBe(429);
    expect((await login(name, 'a long enough test password', freshAddress())).status).toBe(200);
  });

  it('count an IPv6 client by its /64: a new address in the same network gets no fresh budget', async () => {
    const { name } = await newAccount(client, 'v6');
    const network = `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`;
    for (let i = 1; i <= 10; i++) expect((await login(name, `nope ${i} nope`, `${network}::${i.toString(16)}`)).status).toBe(401);
    expect((await login(name, 'a long enough test password', `${network}:ffff:ffff:ffff:ffff`)).status).toBe(429);
    expect((await login(name, 'a long enough test password', freshAddress('v6'))).status).toBe(200);
  });
});

describe('sign-ups', () => {
  it('are limited per network (counted before any work)', async () => {
    const address = freshAddress();
    // Weak passwords: refused by the users service at no hashing cost, but counted all the same.
    const answers = [];
    for (let i = 0; i < 51; i++) answers.push((await signUp(`many_${randomBytes(4).toString('hex')}`, '12345678', address)).status);
    expect(answers.slice(0, 50).every((status) => status === 400)).toBe(true);
    expect(answers[50]).toBe(429);
    expect((await signUp(`other_${randomBytes(4).toString('hex')}`, password)).status).toBe(201);
  });

  it('refuse weak passwords: 12345678, eight spaces, the name itself', async () => {
    const name = `weak_${randomBytes(4).toString('hex')}`;
    for (const weak of ['12345678', '        ', name, name.toUpperCase(), 'password']) {
      const answer = await signUp(name, weak);
      expect(answer.status, weak).toBe(400);
      expect(answer.body).toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect((await signUp(name, password)).status).toBe(201);
  });

  it('take names case-insensitively: Alice and alice are one person', async () => {
    const name = `Alice_${randomBytes(4).toString('hex')}`;
    expect((await signUp(name, password)).status).toBe(201);
    const twin = await signUp(name.toLowerCase(), 'brushes and paper');
    expect(twin.status).toBe(409);
    expect(twin.body).toMatchObject({ error: 'existing username', code: 'CONFLICT' });
    expect((await login(name.toUpperCase(), password, freshAddress())).status).toBe(200);
  });
});

describe('sessions', () => {
  it('are bounded per user: the 21st login ends the oldest session', async () => {
    const account = await newAccount(client, 'sessions');
    const address = freshAddress();
    const refreshTokens = [account.refreshToken];
    for (let i = 0; i < 20; i++) refreshTokens.push((await login(account.name, account.password, address)).body.refreshToken as string);
    expect((await client.request('POST', '/refresh', { json: { refreshToken: refreshTokens[0] } })).status).toBe(401);
    expect((await client.request('POST', '/refresh', { json: { refreshToken: refreshTokens[20] } })).status).toBe(200);
  });

  it('end on /logout even when the access token is no longer usable', async () => {
    const account = await newAccount(client, 'logout');
    const unusable = `${account.accessToken.slice(0, -4)}AAAA`;
    const answer = await client.request('POST', '/logout', { token: unusable, json: { refreshToken: account.refreshToken } });
    expect(answer.status).toBe(200);
    expect((await client.request('POST', '/refresh', { json: { refreshToken: account.refreshToken } })).status).toBe(401);
  });

  it('keep the refresh cookie on its one path, HttpOnly and SameSite', async () => {
    const account = await newAccount(client, 'cookies');
    const refresh = account.login.cookies.find((cookie) => cookie.startsWith('refreshToken='))!;
    expect(refresh).toMatch(/Path=\/refresh(;|$)/);
    expect(refresh).toMatch(/HttpOnly/);
    expect(refresh).toMatch(/SameSite=Lax/);
    // A browser sends it back to /refresh, which renews the session from the cookie alone.
    const renewed = await client.request('POST', '/refresh', { headers: { cookie: `refreshToken=${account.refreshToken}` } });
    expect(renewed.status).toBe(200);
  });
});
