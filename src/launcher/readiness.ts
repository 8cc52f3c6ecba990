import { connect } from 'node:net';
import { request } from 'node:http';
import { waitFor, WaitTimeoutError } from '../platform/wait.js';
import { NotReadyError } from './errors.js';

/** Redis answers PING with +PONG (after AUTH as `login`, when given). */
export function redisAnswers(host: string, port: number, login?: { user: string; password: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.setTimeout(1000);
    const auth = login ? `*3\r\n$4\r\nAUTH\r\n${bulk(login.user)}${bulk(login.password)}` : '';
    socket.once('connect', () => socket.write(`${auth}PING\r\n`));
    let received = '';
    socket.on('data', (data) => {
      received += data.toString();
      const replies = received.split('\r\n').filter(Boolean);
      if (replies.length < (login ? 2 : 1)) return;
      socket.destroy();
      resolve(replies.at(-1) === '+PONG' && replies.every((r) => !r.startsWith('-')));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function bulk(value: string): string {
  return `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
}

/** An HTTP GET that answers 2xx. */
export function httpOk(url: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** An HTTP GET that answers 2xx with a body matching `pattern` (read up to 4 MiB). */
export function httpBodyMatches(url: string, pattern: RegExp, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > 4 * 1024 * 1024) {
          req.destroy();
          resolve(false);
        } else chunks.push(chunk);
      });
      res.once('end', () => resolve(ok && pattern.test(Buffer.concat(chunks).toString('utf8'))));
      res.once('error', () => resolve(false));
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/**
 * Polls `probe` until it says ready: soon at first, then every 250 ms. Fails fast when the
 * process exits first (`exited` resolves) or `signal` aborts, and after `timeoutMs`.
 */
export async function waitUntilReady(what: string, probe: () => Promise<boolean>, options: { timeoutMs: number; exited?: Promise<unknown> | undefined; intervalMs?: number; signal?: AbortSignal | undefined }): Promise<void> {
  const stop = new AbortController();
  const interrupted = new NotReadyError(`${what}: start-up interrupted`, false);
  const abort = () => stop.abort(interrupted);
  if (options.signal?.aborted) abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  void options.exited?.then((info) => stop.abort(new NotReadyError(`${what} exited during start-up (${describeExit(info)})`, true)));
  try {
    await waitFor(what, probe, { timeoutMs: options.timeoutMs, intervalMs: options.intervalMs ?? 25, backoffFactor: 1.5, maxIntervalMs: 250, signal: stop.signal });
  } catch (error) {
    if (error instanceof WaitTimeoutError) throw new NotReadyError(`${what} was not ready after ${options.timeoutMs} ms`, false);
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}

function describeExit(info: unknown): string {
  const { code, signal } = (info ?? {}) as { code?: number | null; signal?: string | null };
  return signal ? `signal ${signal}` : `exit code ${code}`;
}
