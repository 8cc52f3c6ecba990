import { ApiError, errorFromAnswer, networkError } from './api-error';

// The one way the app talks to the gateway. Same origin, so the HttpOnly token cookies travel by
// themselves. A 401 on anything but the token calls themselves is met by one POST /refresh
// (shared by every call that failed at that moment) and the call is repeated, so an expired
// access token never shows; when the refresh fails too, the person is signed out.

export interface ApiClientOptions {
  fetch?: typeof fetch;
  /** Makes the XMLHttpRequest an upload goes through (its upload progress events drive the bar). */
  createXhr?: () => XMLHttpRequest;
  /** Called when the session cannot be renewed (the refresh token is gone or expired). */
  onSignedOut?: () => void;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  json?: unknown;
  signal?: AbortSignal;
}

export interface UploadProgress {
  sent: number;
  total: number;
}

export interface ApiClient {
  request<T>(path: string, options?: RequestOptions): Promise<T>;
  /**
   * POST /img with the form, reporting bytes sent as they go. One idempotency key for the
   * upload, so a repeat after a refreshed session never stores the image twice.
   */
  upload(form: FormData, onProgress: (progress: UploadProgress) => void, signal?: AbortSignal): Promise<{ imageID: string }>;
  /** Renews the access token; false when the session cannot be renewed. Concurrent callers share one request. */
  refreshSession(): Promise<boolean>;
}

/** Paths where a 401 is the answer itself, not an expired token. */
const tokenPaths = new Set(['/login', '/signup', '/refresh']);

export function createApiClient(options: ApiClientOptions = {}): ApiClient {
  const fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const createXhr = options.createXhr ?? (() => new XMLHttpRequest());
  let refreshing: Promise<boolean> | undefined;

  const send = async (path: string, request: RequestOptions): Promise<Response> => {
    const headers: Record<string, string> = { accept: 'application/json' };
    let body: string | undefined;
    if (request.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(request.json);
    }
    try {
      return await fetchFn(path, { method: request.method ?? 'GET', headers, body, credentials: 'same-origin', signal: request.signal });
    } catch (error) {
      if (request.signal?.aborted) throw error;
      throw networkError();
    }
  };

  const refreshSession = (): Promise<boolean> => {
    refreshing ??= (async () => {
      try {
        const answer = await send('/refresh', { method: 'POST' });
        if (answer.ok) return true;
        options.onSignedOut?.();
        return false;
      } catch {
        return false;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };

  const read = async <T>(answer: Response): Promise<T> => {
    let body: unknown;
    try {
      body = answer.status === 204 ? {} : await answer.json();
    } catch {
      body = undefined;
    }
    if (!answer.ok) throw errorFromAnswer(answer.status, body, answer.headers.get('retry-after'));
    if (body === undefined) throw new ApiError(answer.status, 'BAD_ANSWER', `Easel answered unexpectedly (HTTP ${answer.status}). Please try again in a moment.`);
    return body as T;
  };

  const sendUpload = (form: FormData, idempotencyKey: string, onProgress: (progress: UploadProgress) => void, signal?: AbortSignal) =>
    new Promise<Response>((resolve, reject) => {
      const xhr = createXhr();
      xhr.open('POST', '/img');
      xhr.setRequestHeader('accept', 'application/json');
      xhr.setRequestHeader('idempotency-key', idempotencyKey);
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress({ sent: event.loaded, total: event.total });
      };
      xhr.onload = () => {
        const headers = new Headers();
        const retryAfter = xhr.getResponseHeader('retry-after');
        if (retryAfter) headers.set('retry-after', retryAfter);
        resolve(new Response(xhr.status === 204 ? null : xhr.responseText, { status: xhr.status, headers }));
      };
      xhr.onerror = () => reject(networkError());
      xhr.onabort = () => reject(new DOMException('The upload was cancelled.', 'AbortError'));
      if (signal?.aborted) return reject(new DOMException('The upload was cancelled.', 'AbortError'));
      signal?.addEventListener('abort', () => xhr.abort(), { once: true });
      xhr.send(form);
    });

  return {
    refreshSession,
    async upload(form, onProgress, signal) {
      const key = crypto.randomUUID();
      let answer = await sendUpload(form, key, onProgress, signal);
      if (answer.status === 401 && (await refreshSession())) answer = await sendUpload(form, key, onProgress, signal);
      return read<{ imageID: string }>(answer);
    },
    async request<T>(path: string, request: RequestOptions = {}): Promise<T> {
      let answer = await send(path, request);
      if (answer.status === 401 && !tokenPaths.has(path) && (await refreshSession())) {
        answer = await send(path, request);
      }
      return read<T>(answer);
    },
  };
}
