import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { Pool } from 'undici';

// The one HTTP client tests use to speak to the public API, as a client of the gateway would:
// JSON or multipart bodies, a bearer token or cookies, and every reply with its status, headers,
// cookies and body (parsed JSON when the gateway says JSON, the raw bytes always).

export interface ApiReply {
  status: number;
  /** Lower-case names; repeated headers joined with ", " (Set-Cookie is in `cookies`). */
  headers: Record<string, string | undefined>;
  /** Set-Cookie lines. */
  cookies: string[];
  /** The parsed body when it is JSON, else {}. */
  body: Record<string, unknown>;
  bytes: Buffer;
}

export interface ApiRequestOptions {
  /** Sent as Authorization: Bearer. */
  token?: string;
  /** A JSON body. */
  json?: unknown;
  /** Any other body: a FormData (multipart), bytes or text. */
  body?: FormData | Buffer | string;
  headers?: Record<string, string>;
}

export interface Account {
  name: string;
  password: string;
  userId: string;
  accessToken: string;
  refreshToken: string;
  /** The login reply (cookies, headers). */
  login: ApiReply;
}

export interface ApiClient {
  readonly baseUrl: string;
  request(method: string, path: string, options?: ApiRequestOptions): Promise<ApiReply>;
  /** Just the status and the parsed body, for comparing a whole answer exactly. */
  answer(method: string, path: string, options?: ApiRequestOptions): Promise<{ status: number; body: Record<string, unknown> }>;
  get(path: string, options?: ApiRequestOptions): Promise<ApiReply>;
  post(path: string, options?: ApiRequestOptions): Promise<ApiReply>;
  signUp(name: string, password: string): Promise<ApiReply>;
  logIn(name: string, password: string): Promise<ApiReply>;
  /** Signs a fresh user up and logs them in (a unique name from `label`); fails loudly if either is refused. */
  newAccount(label?: string, password?: string): Promise<Account>;
  /** POST /img with a JSON body: the image as base64 plus title, description, tags... */
  upload(token: string, image: Buffer, fields?: Record<string, unknown>, headers?: Record<string, string>): Promise<ApiReply>;
  /** POST /img as multipart: text fields and the image file. */
  uploadMultipart(token: string, image: Buffer, contentType: string, fields?: Record<string, string>): Promise<ApiReply>;
  close(): Promise<void>;
}

export const defaultTestPassword = 'a long enough test password';

export function apiClient(baseUrl: string, options: { connections?: number; timeoutMs?: number } = {}): ApiClient {
  const pool = new Pool(baseUrl, { connections: options.connections ?? 8 });
  const timeoutMs = options.timeoutMs ?? 30_000;

  const request = async (method: string, path: string, opts: ApiRequestOptions = {}): Promise<ApiReply> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: Buffer | string | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.body instanceof FormData) {
      // Encoded as fetch would (the global FormData belongs to Node's own undici, not this one).
      const encoded = new Response(opts.body);
      headers['content-type'] = encoded.headers.get('content-type')!;
      body = Buffer.from(await encoded.arrayBuffer());
    } else {
      body = opts.body;
    }
    const response = await pool.request({ method: method as 'GET', path, headers, body: body ?? null, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const bytes = Buffer.from(await response.body.arrayBuffer());
    const setCookie = response.headers['set-cookie'];
    const isJson = String(response.headers['content-type'] ?? '').includes('json');
    return {
      status: response.statusCode,
      headers: Object.fromEntries(Object.entries(response.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value])),
      cookies: setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie],
      body: isJson && bytes.length > 0 ? (JSON.parse(bytes.toString('utf8')) as Record<string, unknown>) : {},
      bytes,
    };
  };

  const client: ApiClient = {
    baseUrl,
    request,
    answer: async (method, path, opts) => {
      const { status, body } = await request(method, path, opts);
      return { status, body };
    },
    get: (path, opts) => request('GET', path, opts),
    post: (path, opts) => request('POST', path, opts),
    signUp: (name, password) => request('POST', '/signup', { json: { name, password } }),
    logIn: (name, password) => request('POST', '/login', { json: { name, password } }),
    async newAccount(label = 'user', password = defaultTestPassword) {
      const name = `${label}_${randomBytes(4).toString('hex')}`;
      const signUp = await client.signUp(name, password);
      if (signUp.status !== 201) throw new Error(`sign-up of ${name} answered ${signUp.status}: ${JSON.stringify(signUp.body)}`);
      const login = await client.logIn(name, password);
      if (login.status !== 200) throw new Error(`login of ${name} answered ${login.status}: ${JSON.stringify(login.body)}`);
      const accessToken = login.body.accessToken as string;
      return { name, password, userId: decodeJwt(accessToken).sub!, accessToken, refreshToken: login.body.refreshToken as string, login };
    },
    upload: (token, image, fields = {}, headers = {}) => request('POST', '/img', { token, json: { imageBlob: image.toString('base64'), ...fields }, headers }),
    uploadMultipart(token, image, contentType, fields = {}) {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      form.append('image', new Blob([image], { type: contentType }), 'picture');
      return request('POST', '/img', { token, body: form });
    },
    close: () => pool.close(),
  };
  return client;
}
