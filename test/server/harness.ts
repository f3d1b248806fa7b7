/**
 * Test harness: a real server on loopback (in this process) with a fresh log behind it, or with
 * tenants on memory behind it, and clients connected to it over the network.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { connect, type ClientOptions, type StrandClient } from '@strand/client';
import { EventLog } from '@strand/core';
import { TenantManager } from '@strand/core/tenancy';
import { wire } from '@strand/protocol';
import { createServer, type ServerOptions, type StrandServer } from '@strand/server';
import { ClassicLevel } from 'classic-level';
import { MemoryLevel } from 'memory-level';
import { afterAll, beforeAll } from 'vitest';

export type Backend = 'memory' | 'leveldb';

/** A running server with its log. */
export interface Running {
  server: StrandServer;
  log: EventLog;
  url: string;
  apiKey: string;
  client(options?: Partial<ClientOptions>): StrandClient;
  close(): Promise<void>;
}

const dirs: string[] = [];

/** A temporary directory removed by {@link cleanup}. */
export function tempDir(prefix = 'strand-server-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Removes the temporary directories. */
export function cleanup(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Starts a server on a fresh log of the given backend. */
export async function startServer(backend: Backend, options: Partial<ServerOptions> = {}): Promise<Running> {
  const store = backend === 'memory' ? new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }) : new ClassicLevel(tempDir(), { keyEncoding: 'view', valueEncoding: 'view' });
  const log = await EventLog.open({ store, ownsStore: true });
  const server = createServer({ log, ...options });
  const url = await server.listen();
  const apiKey = server.apiKey!;
  const clients: StrandClient[] = [];
  return {
    server,
    log,
    url,
    apiKey,
    client: (o = {}) => {
      const c = connect({ url, apiKey, ...o });
      clients.push(c);
      return c;
    },
    close: async () => {
      for (const c of clients) await c.close();
      await server.close();
      await log.close();
    },
  };
}

/** Every permission on every stream (`>`). */
export const allGrants = (['read', 'append', 'subscribe', 'schemas', 'admin'] as const).map((permission) => ({ permission, pattern: '>' }));

/** A tenant server shared by the tests of a file or a describe block (see {@link tenantServer}). */
export interface TenantServer {
  /** The tenants behind the server. */
  readonly tenants: TenantManager;
  /** The server. */
  readonly server: StrandServer;
  /** Its URL. */
  readonly url: string;
  /** A client with this API key that does not reconnect; closed after the tests. */
  client(apiKey: string): StrandClient;
}

/**
 * Before the tests of the enclosing file or describe block: tenants on memory, set up by `setup`
 * (tenants, principals, data), and a server on them; after them: its clients, the server and the
 * tenants closed. Its fields are set once the tests run.
 */
export function tenantServer(setup: (tenants: TenantManager) => Promise<void>): TenantServer {
  let tenants: TenantManager | undefined;
  let server: StrandServer | undefined;
  let url: string | undefined;
  const clients: StrandClient[] = [];
  beforeAll(async () => {
    tenants = await TenantManager.open({ store: new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });
    await setup(tenants);
    server = createServer({ tenants });
    url = await server.listen();
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await server?.close();
    await tenants?.close();
  });
  return {
    get tenants() {
      return tenants!;
    },
    get server() {
      return server!;
    },
    get url() {
      return url!;
    },
    client: (apiKey) => {
      const c = connect({ url: url!, apiKey, reconnect: { maxAttempts: 1 } });
      clients.push(c);
      return c;
    },
  };
}

/** A bare Connect transport to `url` with `apiKey` as its bearer: for tests that speak the protocol without `@strand/client`. */
export function rawTransport(url: string, apiKey: string, options: { useBinaryFormat?: boolean } = {}): Transport {
  const auth: Interceptor = (next) => (req) => {
    req.header.set('authorization', `Bearer ${apiKey}`);
    return next(req);
  };
  return createConnectTransport({ baseUrl: url, httpVersion: '2', interceptors: [auth], ...options });
}

/** The event store service over {@link rawTransport}. */
export function rawClient(url: string, apiKey: string) {
  return createClient(wire.EventStoreService, rawTransport(url, apiKey));
}
