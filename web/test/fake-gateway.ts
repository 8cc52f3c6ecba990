import type { Limits, Me } from '../src/lib/api-types';

// A stand-in for the gateway in component tests: answers the API calls the components make from
// a small in-memory state and records every request. (The browser tier runs the real one.)

export interface RecordedCall {
  method: string;
  path: string;
  body: unknown;
}

export type Route = (call: RecordedCall) => { status: number; body: unknown; headers?: Record<string, string> } | undefined;

export const defaultLimits: Limits = {
  maxBytes: 10 * 1024 * 1024,
  maxPixels: 40_000_000,
  types: ['image/jpeg', 'image/png', 'image/webp', 'image/gif'],
  maxTags: 10,
  maxTitle: 100,
  maxDescription: 1000,
};

export function meAnswer(overrides: Partial<Me> = {}): Me {
  return { name: 'mario', imageCount: 2, quota: { used: 2, limit: 100 }, ...overrides };
}

export function fakeGateway(routes: Route[]) {
  const calls: RecordedCall[] = [];
  const fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const path = typeof input === 'string' ? input : input instanceof URL ? input.pathname + input.search : input.url;
    const call = { method: init.method ?? 'GET', path, body: typeof init.body === 'string' ? JSON.parse(init.body) : init.body };
    calls.push(call);
    for (const route of routes) {
      const answer = route(call);
      if (answer) return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json', ...answer.headers } });
    }
    return new Response(JSON.stringify({ message: 'failure', error: 'no such endpoint', code: 'NOT_FOUND' }), { status: 404 });
  };
  return { fetch: fetch as typeof globalThis.fetch, calls, callsTo: (method: string, path: string) => calls.filter((call) => call.method === method && call.path.split('?')[0] === path) };
}

export const route = (method: string, path: string, answer: (call: RecordedCall) => { status: number; body: unknown; headers?: Record<string, string> }): Route =>
  (call) => (call.method === method && call.path.split('?')[0] === path ? answer(call) : undefined);

export const ok = (body: unknown) => ({ status: 200, body });

/** A PNG header declaring `width` x `height` (enough for the type and size checks; no pixels). */
export function pngHeader(width: number, height: number, totalBytes = 64): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(Math.max(totalBytes, 33));
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const view = new DataView(bytes.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return bytes;
}

/** An XMLHttpRequest stand-in for uploads: records what is sent and lets the test play the network. */
export class FakeUploadXhr {
  static made: FakeUploadXhr[] = [];
  method = '';
  url = '';
  headers: Record<string, string> = {};
  sent: unknown;
  status = 0;
  responseText = '';
  upload: { onprogress: ((event: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  constructor() {
    FakeUploadXhr.made.push(this);
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name.toLowerCase()] = value;
  }
  getResponseHeader() {
    return null;
  }
  send(body: unknown) {
    this.sent = body;
  }
  abort() {
    this.onabort?.();
  }
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ lengthComputable: true, loaded, total });
  }
  respond(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}
