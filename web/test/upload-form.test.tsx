import { cleanup, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultLimits, fakeGateway, FakeUploadXhr, meAnswer, ok, pngHeader, route } from './fake-gateway';
import { renderApp } from './render';

// The upload page: everything GET /limits and the quota forbid is refused with words before a
// single byte is sent; a good upload shows its progress and opens the new image's page.

beforeEach(() => {
  FakeUploadXhr.made = [];
});
afterEach(cleanup);

function gateway(options: { limits?: Partial<typeof defaultLimits>; me?: ReturnType<typeof meAnswer> } = {}) {
  return fakeGateway([
    route('GET', '/me', () => ok(options.me ?? meAnswer())),
    route('GET', '/limits', () => ok({ ...defaultLimits, ...options.limits })),
    route('GET', '/tags', () => ok({ tags: [{ tag: 'watercolor', count: 3 }] })),
    route('GET', '/AAAAAAAAAAAAAAAAAAAAAA/info', () => ok({
      imageID: 'AAAAAAAAAAAAAAAAAAAAAA', author: 'mario', title: 'Harbour', description: '', size: 64, type: 'image/png',
      width: 40, height: 30, tags: ['watercolor'], likes: 0, created: '2026-01-02T03:04:05.000Z',
    })),
    route('GET', '/AAAAAAAAAAAAAAAAAAAAAA/like', () => ok({ liked: false, likes: 0 })),
  ]);
}

async function openUpload(fake: ReturnType<typeof gateway>) {
  const app = renderApp('/upload', { fetch: fake.fetch, createXhr: () => new FakeUploadXhr() as unknown as XMLHttpRequest });
  const file = await screen.findByLabelText(/^Image/);
  return { app, file, user: userEvent.setup() };
}

/** The words a field's aria-describedby points at: what a screen reader says with it. */
function descriptionOf(element: HTMLElement): string {
  return (element.getAttribute('aria-describedby') ?? '').split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join(' ');
}

const png = (name: string, width: number, height: number, bytes = 64) => new File([pngHeader(width, height, bytes)], name, { type: 'image/png' });

describe('the upload form refuses before sending', () => {
  it('a file over the size limit, saying how big it is and what to do', async () => {
    const fake = gateway({ limits: { maxBytes: 1000 } });
    const { file, user } = await openUpload(fake);
    await user.upload(file, png('huge.png', 100, 100, 2048));
    await waitFor(() => expect(descriptionOf(file)).toMatch(/“huge\.png” is 2\.0 KB; Easel takes images up to 1000 bytes\. Export it smaller/));
    await user.type(screen.getByLabelText('Title'), 'Too big');
    await user.click(screen.getByRole('button', { name: 'Upload' }));
    const summary = await screen.findByRole('alert');
    expect(within(summary).getByText(/Please fix this before uploading/)).toBeTruthy();
    expect(summary.textContent).toContain('“huge.png” is 2.0 KB');
    expect(FakeUploadXhr.made).toHaveLength(0);
    expect(fake.callsTo('POST', '/img')).toHaveLength(0);
  });

  it('an image with more pixels than allowed, read from its header', async () => {
    const fake = gateway({ limits: { maxPixels: 1_000_000 } });
    const { file, user } = await openUpload(fake);
    await user.upload(file, png('poster.png', 2000, 1000));
    await waitFor(() => expect(descriptionOf(file)).toMatch(/“poster\.png” is 2000 × 1000 pixels \(2 megapixels\); Easel takes up to 1 megapixels\. Resize it/));
    await user.click(screen.getByRole('button', { name: 'Upload' }));
    expect(FakeUploadXhr.made).toHaveLength(0);
  });

  it('a file that is not an image Easel takes, whatever its name says', async () => {
    const fake = gateway();
    const { file, user } = await openUpload(fake);
    await user.upload(file, new File(['just some text, honestly'], 'notes.png', { type: 'image/png' }));
    await waitFor(() => expect(descriptionOf(file)).toMatch(/“notes\.png” is not an image Easel takes\. Use one of: JPEG, PNG, WebP, GIF\./));
    await user.click(screen.getByRole('button', { name: 'Upload' }));
    expect(FakeUploadXhr.made).toHaveLength(0);
  });

  it('no file, a long title, a bad tag and too many tags, each named at its field', async () => {
    const fake = gateway({ limits: { maxTitle: 10, maxTags: 2 } });
    const { user } = await openUpload(fake);
    await user.type(screen.getByLabelText('Title'), 'A title far too long');
    await user.click(screen.getByRole('button', { name: 'Upload' }));
    expect(await screen.findAllByText('Choose an image to upload.')).toHaveLength(2);
    expect(screen.getAllByText('The title is 20 characters; keep it to 10.')).toHaveLength(2);
    expect(screen.getByLabelText('Title').getAttribute('aria-invalid')).toBe('true');
    expect(descriptionOf(screen.getByLabelText('Title'))).toContain('The title is 20 characters; keep it to 10.');

    await user.type(screen.getByLabelText('Tags'), 'ink, sea gulls');
    await user.click(screen.getByRole('button', { name: 'Upload' }));
    expect((await screen.findAllByText(/The tag “sea gulls” can only have letters, digits/)).length).toBeGreaterThan(0);

    await user.clear(screen.getByLabelText('Tags'));
    await user.type(screen.getByLabelText('Tags'), 'ink, sea, gulls');
    await user.click(screen.getByRole('button', { name: 'Upload' }));
    expect((await screen.findAllByText('That is 3 tags; use at most 2.')).length).toBeGreaterThan(0);
    expect(FakeUploadXhr.made).toHaveLength(0);
  });

  it('anything when the upload quota is full', async () => {
    const fake = gateway({ me: meAnswer({ quota: { used: 100, limit: 100 } }) });
    const { file, user } = await openUpload(fake);
    await user.upload(file, png('fine.png', 40, 30));
    await user.click(screen.getByRole('button', { name: 'Upload' }));
    expect((await screen.findAllByText(/Your upload quota is full \(100 of 100\)\. Delete an image in “My images” to make room\./)).length).toBeGreaterThan(0);
    expect(FakeUploadXhr.made).toHaveLength(0);
  });
});

describe('a good upload', () => {
  it('sends the form, shows the progress as bytes go, then opens the new image', async () => {
    const fake = gateway();
    const { app, file, user } = await openUpload(fake);
    await user.upload(file, png('harbour.png', 40, 30));
    expect(await screen.findByRole('img', { name: 'Preview of the chosen image' })).toBeTruthy();
    await user.type(screen.getByLabelText('Title'), 'Harbour');
    await user.type(screen.getByLabelText('Tags'), 'Watercolor, sea');
    await user.click(screen.getByRole('button', { name: 'Upload' }));

    await waitFor(() => expect(FakeUploadXhr.made).toHaveLength(1));
    const xhr = FakeUploadXhr.made[0]!;
    expect(xhr.method).toBe('POST');
    expect(xhr.url).toBe('/img');
    expect(xhr.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    const form = xhr.sent as FormData;
    expect(form.get('title')).toBe('Harbour');
    expect(form.get('tags')).toBe('watercolor,sea');
    expect((form.get('image') as File).name).toBe('harbour.png');

    xhr.progress(30, 100);
    const bar = await screen.findByRole('progressbar');
    expect(bar.getAttribute('value')).toBe('30');
    expect(bar.getAttribute('max')).toBe('100');
    expect(screen.getByText(/Uploading… 30%/)).toBeTruthy();
    xhr.progress(100, 100);
    expect(await screen.findByText('Uploaded. Making the thumbnails…')).toBeTruthy();
    xhr.respond(201, { message: 'success', imageID: 'AAAAAAAAAAAAAAAAAAAAAA', error: '' });

    await waitFor(() => expect(app.router.state.location.pathname).toBe('/images/AAAAAAAAAAAAAAAAAAAAAA'));
    expect(await screen.findByRole('heading', { name: 'Harbour', level: 1 })).toBeTruthy();
  });

  it("shows the server's refusal in words and keeps what was typed", async () => {
    const fake = gateway();
    const { file, user } = await openUpload(fake);
    await user.upload(file, png('harbour.png', 40, 30));
    await user.type(screen.getByLabelText('Title'), 'Harbour');
    await user.click(screen.getByRole('button', { name: 'Upload' }));
    await waitFor(() => expect(FakeUploadXhr.made).toHaveLength(1));
    FakeUploadXhr.made[0]!.respond(415, { message: 'failure', imageID: '', error: 'the image could not be read', code: 'UNSUPPORTED_MEDIA_TYPE' });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('The image was not uploaded. The image could not be read.');
    expect((screen.getByLabelText('Title') as HTMLInputElement).value).toBe('Harbour');
  });
});
