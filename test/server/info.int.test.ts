/**
 * What a key may learn about itself and its store (InfoService: WhoAmI, GetStoreInfo) and the
 * schema bindings (ListBindings): on a single log and across tenants, where each key sees its own
 * tenant only and a key without the needed permission is refused.
 */
import { readFileSync } from 'node:fs';
import { connect, } from '@strand/client';
import { TenantManager as Tenants } from '@strand/core/tenancy';
import { errorCode } from '@strand/core/testing';
import { createServer, } from '@strand/server';
import { MemoryLevel } from 'memory-level';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { allGrants, cleanup, type Running, startServer, tenantServer } from './harness.js';

const serverVersion = (JSON.parse(readFileSync(new URL('../../packages/server/package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('a single log', () => {
  let s: Running | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });
  afterAll(cleanup);

  it("WhoAmI: the log's key holds every permission on >; GetStoreInfo: version, head and the size the embedder reports", async () => {
    let size: number | undefined = 12_345;
    s = await startServer('memory', { storeSize: async () => size });
    const c = s.client();
    expect(await c.whoAmI()).toEqual({
      tenant: 'default',
      principal: 'default',
      grants: ['read', 'append', 'subscribe', 'schemas', 'admin'].map((permission) => ({ permission, pattern: '>' })),
    });
    await c.append('a/b', [{ type: 'T', data: 1 }, { type: 'T', data: 2 }]);
    expect(await c.storeInfo()).toEqual({ serverVersion, position: 2, size: { bytes: 12_345, kind: 'disk' } });
    size = undefined;
    expect(await c.storeInfo()).toEqual({ serverVersion, position: 2 });
    expect(await errorCode(connect({ url: s.url, apiKey: 'wrong-key-0123456789abcdef', reconnect: { maxAttempts: 1 } }).whoAmI())).toBe('STRAND_UNAUTHENTICATED');
  });

  it('refuses a storeSize that is not a function, and one on a tenant server', async () => {
    s = await startServer('memory');
    expect(() => createServer({ log: s!.log, storeSize: 42 as never })).toThrow(/storeSize must be a function/);
    const tenants = await Tenants.open({ store: new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });
    try {
      expect(() => createServer({ tenants, storeSize: async () => 1 })).toThrow(/single-log/);
    } finally {
      await tenants.close();
    }
  });
});

describe('tenants', () => {
  const keys = { acme: '', acmeAppend: '', globex: '' };
  const ids = { acmeAppend: '' };
  const t = tenantServer(async (tenants) => {
    await tenants.createTenant('acme');
    await tenants.createTenant('globex');
    keys.acme = (await tenants.createPrincipal('acme', allGrants)).apiKey;
    const p = await tenants.createPrincipal('acme', [{ permission: 'append', pattern: 'orders/>' }], 'writer');
    keys.acmeAppend = p.apiKey;
    ids.acmeAppend = p.id;
    keys.globex = (await tenants.createPrincipal('globex', allGrants)).apiKey;
  });
  const client = t.client;

  it("WhoAmI answers the key's own tenant, principal and grants as they are now", async () => {
    const w = client(keys.acmeAppend);
    expect(await w.whoAmI()).toEqual({ tenant: 'acme', principal: ids.acmeAppend, grants: [{ permission: 'append', pattern: 'orders/>' }] });
    await t.tenants.grant(ids.acmeAppend, { permission: 'read', pattern: 'orders/>' }, 'acme');
    expect((await w.whoAmI()).grants).toEqual([
      { permission: 'append', pattern: 'orders/>' },
      { permission: 'read', pattern: 'orders/>' },
    ]);
    await t.tenants.revoke(ids.acmeAppend, { permission: 'read', pattern: 'orders/>' }, 'acme');
    expect((await client(keys.globex).whoAmI()).tenant).toBe('globex');
  });

  it("GetStoreInfo: a tenant's size is its own stored event bytes; a key without read or subscribe is refused", async () => {
    const acme = client(keys.acme);
    const globex = client(keys.globex);
    const before = (await globex.storeInfo()).size;
    expect(before).toEqual({ bytes: (await t.tenants.usage('globex')).storageBytes, kind: 'logical' });
    await acme.append('orders/o-1', [{ type: 'OrderPlaced', data: { text: 'x'.repeat(1000) } }]);
    const a = await acme.storeInfo();
    expect(a.size?.kind).toBe('logical');
    expect(a.size!.bytes).toBe((await t.tenants.usage('acme')).storageBytes);
    expect(a.size!.bytes).toBeGreaterThan(1000);
    expect(a.serverVersion).toBe(serverVersion);
    // Another tenant's appends do not count.
    expect((await globex.storeInfo()).size).toEqual(before);
    expect(await errorCode(client(keys.acmeAppend).storeInfo())).toBe('STRAND_ACCESS_DENIED');
  });

  it('ListBindings: the patterns bound in the key\'s tenant and their types; refused without read or schemas', async () => {
    const acme = await client(keys.acme).schemas();
    await acme.register('OrderPlaced', 1, z.object({ total: z.number() }));
    await acme.register('OrderShipped', 1, z.object({ carrier: z.string() }));
    await acme.bind('orders/>', ['OrderPlaced', 'OrderShipped']);
    await acme.bind('archive/*', ['OrderPlaced']);
    expect(await acme.bindings()).toEqual([
      { pattern: 'archive/*', types: ['OrderPlaced'] },
      { pattern: 'orders/>', types: ['OrderPlaced', 'OrderShipped'] },
    ]);
    // Rebinding replaces a pattern's types.
    await acme.bind('archive/*', ['OrderShipped']);
    expect((await acme.bindings())[0]).toEqual({ pattern: 'archive/*', types: ['OrderShipped'] });
    // Another tenant has none; a key with neither read nor schemas is refused.
    expect(await (await client(keys.globex).schemas()).bindings()).toEqual([]);
    expect(await errorCode((async () => (await client(keys.acmeAppend).schemas()).bindings())())).toBe('STRAND_ACCESS_DENIED');
  });
});
