/**
 * The core conformance suite, unchanged, against the client talking to a real server over
 * loopback, with memory and LevelDB behind it. Commit hooks, interceptors and verify are
 * installed on the server's log and driven through the client.
 */
import { connect } from '@strand/client';
import { runStoreConformance } from '@strand/core/testing';
import { afterAll, it } from 'vitest';
import { type Backend, cleanup, startServer } from './harness.js';

afterAll(cleanup);

for (const backend of ['memory', 'leveldb'] as Backend[]) {
  runStoreConformance({
    name: `client -> server (${backend})`,
    test: it,
    supports: { log: true, reopen: true },
    open: async () => {
      const running = await startServer(backend);
      const store = running.client();
      return {
        store,
        log: running.log,
        // A new client on the same server and data.
        reopen: async () => connect({ url: running.url, apiKey: running.apiKey }),
        close: () => running.close(),
      };
    },
  });
}
