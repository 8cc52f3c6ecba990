// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- the declarations must reach every program that compiles this file (test/browser has its own tsconfig)
/// <reference path="./undici-pool.d.ts" />
import type { Pool as UndiciPool } from 'undici';
import PoolFromItsModule from 'undici/lib/dispatcher/pool.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import request from 'undici/lib/api/api-request.js';

// undici's keep-alive connection pool, loaded from its own modules rather than the package
// entry: the entry loads all of undici (109 modules: fetch, WebSocket, EventSource, caches,
// mocks, 1.9 MB of source) though Easel uses only Pool, which cost every process about 3 MB of
// heap and 4 MB of resident memory (24 modules this way; measured after loading fastify: heap
// +1.0 MB against +3.7). The entry also gives every dispatcher its `request` method; this does
// the same for that one method, the only one Easel calls (besides close and destroy, which Pool
// has itself). undici has no `exports` map, so these paths are part of what its version pin
// covers: test/unit/platform/http-pool.test.ts checks them in a process that never loads the entry.
if (typeof Dispatcher.prototype.request !== 'function') Dispatcher.prototype.request = request;

export const Pool: typeof UndiciPool = PoolFromItsModule;
export type Pool = UndiciPool;
