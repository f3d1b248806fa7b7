/**
 * The core conformance suite, unchanged, against the client talking to a real server over
 * loopback. LevelDB: a real `strand serve --tenants` child process, each test on a fresh tenant
 * (an empty log of its own) created through the admin RPCs, so one process serves the whole
 * suite. Memory: a server in this process, where the log-only tests (commit hooks, interceptors,
 * verify) install the feature on the server's log and drive it through the client.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, connectAdmin, type StrandAdmin } from '@strand/client';
import { runStoreConformance } from '@strand/core/testing';
import { afterAll, beforeAll, it } from 'vitest';
import { cleanup, startServer, tempDir } from './harness.js';

const bin = fileURLToPath(new URL('../../packages/cli/bin/strand.js', import.meta.url));
const ADMIN_KEY = 'conformance-admin-key-0123456789abcdef';
let child: ChildProcess;
let url: string;
let admin: StrandAdmin;
let tenants = 0;

beforeAll(async () => {
  child = spawn(process.execPath, [bin, '--path', tempDir(), '--json', 'serve', '--tenants', '--port', '0'], {
    env: { ...process.env, STRAND_ADMIN_KEY: ADMIN_KEY },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`strand serve exited with ${code}`)));
  });
  admin = connectAdmin({ url, adminKey: ADMIN_KEY });
});
afterAll(async () => {
  await admin?.close();
  if (child !== undefined) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  cleanup();
});

runStoreConformance({
  name: 'client -> strand serve (leveldb, child process)',
  test: it,
  supports: { reopen: true },
  open: async () => {
    const tenant = `conformance-${++tenants}`;
    await admin.createTenant(tenant);
    const all = (['read', 'append', 'subscribe', 'schemas', 'admin'] as const).map((permission) => ({ permission, pattern: '>' }));
    const { apiKey } = await admin.createPrincipal(tenant, all);
    const store = connect({ url, apiKey });
    const opened = [store];
    return {
      store,
      // A new client on the same server and data.
      reopen: async () => {
        const c = connect({ url, apiKey });
        opened.push(c);
        return c;
      },
      close: async () => {
        for (const c of opened) await c.close();
        await admin.deleteTenant(tenant);
      },
    };
  },
});

runStoreConformance({
  name: 'client -> server (memory, in process)',
  test: it,
  supports: { log: true, reopen: true },
  open: async () => {
    const running = await startServer('memory');
    const store = running.client();
    return {
      store,
      log: running.log,
      reopen: async () => connect({ url: running.url, apiKey: running.apiKey }),
      close: () => running.close(),
    };
  },
});
