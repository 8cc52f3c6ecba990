import { cleanup, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiClient } from '../src/lib/api-client';
import { ApiError } from '../src/lib/api-error';
import { defaultLimits, fakeGateway, FakeUploadXhr, meAnswer, ok, pngHeader, route } from './fake-gateway';
import { renderApp } from './render';

// An expired access token is renewed with POST /refresh and the call repeated, so the person
// never notices; when the session cannot be renewed they are signed out and told in words.

afterEach(cleanup);
beforeEach(() => {
  FakeUploadXhr.made = [];
});

const expired = { status: 401, body: { message: 'failure', error: 'invalid or expired access token', code: 'UNAUTHENTICATED' } };

/** A gateway whose access token has expired: calls answer 401 until POST /refresh succeeds. */
function expiringGateway(options: { refreshWorks: boolean }) {
  let fresh = false;
  const fake = fakeGateway([
    route('POST', '/refresh', () => {
      if (!options.refreshWorks) return { status: 401, body: { accessToken: '', refreshToken: '', error: 'invalid or expired refresh token', code: 'UNAUTHENTICATED' } };
      fresh = true;
      return ok({ accessToken: 'new', refreshToken: 'new', error: '' });
    }),
    (call) => (!fresh && ['/me', '/recommendations', '/images'].includes(call.path.split('?')[0]!) ? expired : undefined),
    route('GET', '/me', () => ok(meAnswer({ name: 'mario', quota: { used: 7, limit: 100 } }))),
    route('GET', '/limits', () => ok(defaultLimits)),
    route('GET', '/images', () => ok({ images: [], nextCursor: null })),
    route('GET', '/recommendations', () => ok({ images: [], error: '' })),
  ]);
  return { ...fake, isFresh: () => fresh };
}

describe('the API client', () => {
  it('renews an expired token once for all the calls that met it, and repeats them', async () => {
    const fake = expiringGateway({ refreshWorks: true });
    const api = createApiClient({ fetch: fake.fetch });
    const [me, page] = await Promise.all([api.request<{ name: string }>('/me'), api.request<{ images: unknown[] }>('/images?limit=3')]);
    expect(me.name).toBe('mario');
    expect(page.images).toEqual([]);
    expect(fake.callsTo('POST', '/refresh')).toHaveLength(1);
    expect(fake.callsTo('GET', '/me')).toHaveLength(2);
    expect(fake.callsTo('GET', '/images')).toHaveLength(2);
  });

  it('signs the person out when the session cannot be renewed, with words to act on', async () => {
    const fake = expiringGateway({ refreshWorks: false });
    let signedOut = 0;
    const api = createApiClient({ fetch: fake.fetch, onSignedOut: () => signedOut++ });
    const failure = await api.request('/me').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', message: 'Please log in to do that.' });
    expect(signedOut).toBe(1);
    expect(fake.callsTo('GET', '/me')).toHaveLength(1);
  });

  it('never tries to renew on the login call itself: a wrong password is just that', async () => {
    const fake = fakeGateway([route('POST', '/login', () => ({ status: 401, body: { accessToken: '', refreshToken: '', error: 'Your login or password is not correct', code: 'UNAUTHENTICATED' } }))]);
    const api = createApiClient({ fetch: fake.fetch });
    await expect(api.request('/login', { method: 'POST', json: { name: 'a', password: 'b' } })).rejects.toMatchObject({ message: 'Your login or password is not correct.' });
    expect(fake.callsTo('POST', '/refresh')).toHaveLength(0);
  });

  it('repeats an upload refused for an expired token with the same idempotency key', async () => {
    const fake = expiringGateway({ refreshWorks: true });
    const api = createApiClient({ fetch: fake.fetch, createXhr: () => new FakeUploadXhr() as unknown as XMLHttpRequest });
    const done = api.upload(new FormData(), () => undefined);
    await waitFor(() => expect(FakeUploadXhr.made).toHaveLength(1));
    FakeUploadXhr.made[0]!.respond(401, expired.body);
    await waitFor(() => expect(FakeUploadXhr.made).toHaveLength(2));
    FakeUploadXhr.made[1]!.respond(201, { message: 'success', imageID: 'BBBBBBBBBBBBBBBBBBBBBB', error: '' });
    await expect(done).resolves.toMatchObject({ imageID: 'BBBBBBBBBBBBBBBBBBBBBB' });
    expect(FakeUploadXhr.made[1]!.headers['idempotency-key']).toBe(FakeUploadXhr.made[0]!.headers['idempotency-key']);
    expect(fake.callsTo('POST', '/refresh')).toHaveLength(1);
  });
});

describe('in the app', () => {
  it('shows "My images" with the quota after renewing the session, without asking to log in', async () => {
    const fake = expiringGateway({ refreshWorks: true });
    renderApp('/me', { fetch: fake.fetch });
    expect(await screen.findByText('Upload quota: 7 of 100 used')).toBeTruthy();
    expect(screen.getByText(/Signed in as/).textContent).toContain('mario');
    expect(screen.queryByRole('link', { name: 'Log in' })).toBeNull();
    expect(fake.isFresh()).toBe(true);
    expect(fake.callsTo('POST', '/refresh')).toHaveLength(1);
  });

  it('offers to log in when the session is over, instead of an empty page', async () => {
    const fake = expiringGateway({ refreshWorks: false });
    renderApp('/me', { fetch: fake.fetch });
    expect(await screen.findByText(/to see your images/)).toBeTruthy();
    expect(screen.getAllByRole('link', { name: 'Log in' }).length).toBeGreaterThan(0);
  });

  it('the upload form renews the session before sending, so the file goes once', async () => {
    const fake = expiringGateway({ refreshWorks: true });
    renderApp('/upload', { fetch: fake.fetch, createXhr: () => new FakeUploadXhr() as unknown as XMLHttpRequest });
    const user = userEvent.setup();
    const file = await screen.findByLabelText(/^Image/);
    await user.upload(file, new File([pngHeader(40, 30)], 'a.png', { type: 'image/png' }));
    await user.click(screen.getByRole('button', { name: 'Upload' }));
    await waitFor(() => expect(FakeUploadXhr.made).toHaveLength(1));
    expect(fake.callsTo('POST', '/refresh')).toHaveLength(1);
  });
});
