/**
 * Tenant administration through the network under the admin credential, and tenant isolation on
 * every RPC: a tenant's key cannot administer, cannot read or subscribe to another tenant, and a
 * key without a grant is PERMISSION_DENIED.
 */
import { connect, connectAdmin } from '@strand/client';
import { collect, errorCode } from '@strand/core/testing';
import { TenantManager } from '@strand/core/tenancy';
import { createServer, type StrandServer } from '@strand/server';
import { MemoryLevel } from 'memory-level';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let tenants: TenantManager;
let server: StrandServer;
let url: string;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  tenants = await TenantManager.open({ store: new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });
  server = createServer({ tenants });
  url = await server.listen();
});
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await server.close();
  await tenants.close();
});

const admin = () => {
  const a = connectAdmin({ url, adminKey: server.adminKey });
  closers.push(() => a.close());
  return a;
};
const client = (apiKey: string) => {
  const c = connect({ url, apiKey, reconnect: { maxAttempts: 1 } });
  closers.push(() => c.close());
  return c;
};

describe('tenant administration RPCs', () => {
  it('creates, lists, suspends, resumes and deletes tenants with quotas, usage, principals and grants', async () => {
    const a = admin();
    const t = await a.createTenant('acme', { quotas: { streams: 10 } });
    expect([t.name, t.status, t.quotas]).toEqual(['acme', 'active', { streams: 10 }]);
    expect(await errorCode(a.createTenant('acme'))).toBe('STRAND_TENANT_EXISTS');
    expect(await errorCode(a.createTenant('x', { quotas: { bogus: 1 } as never }))).toBe('STRAND_INVALID_ARGUMENT');
    expect((await a.listTenants()).map((x) => x.name)).toEqual(['acme']);
    const p = await a.createPrincipal('acme', [{ permission: 'append', pattern: 'orders/>' }], 'shop');
    const shop = client(p.apiKey);
    await shop.append('orders/1', [{ type: 'Placed', data: { total: 1 } }]);
    // No read grant yet: denied; granted: allowed; revoked: denied again.
    expect(await errorCode(collect(shop.readStream('orders/1')))).toBe('STRAND_ACCESS_DENIED');
    await a.grant('acme', p.id, { permission: 'read', pattern: 'orders/>' });
    expect((await collect(shop.readStream('orders/1'))).length).toBe(1);
    expect((await a.listPrincipals('acme')).map((x) => [x.id, x.label, x.grants.length])).toEqual([[p.id, 'shop', 2]]);
    await a.revoke('acme', p.id, { permission: 'read', pattern: 'orders/>' });
    expect(await errorCode(collect(shop.readStream('orders/1')))).toBe('STRAND_ACCESS_DENIED');
    // Quotas apply on the next call.
    await a.setQuotas('acme', { streams: 1 });
    expect(await errorCode(shop.append('orders/2', [{ type: 'Placed', data: {} }]))).toBe('STRAND_QUOTA_EXCEEDED');
    const usage = await a.usage('acme');
    expect(usage.eventsAppended).toBe(1);
    expect(usage.streams).toBe(1);
    await a.suspendTenant('acme');
    expect(await errorCode(shop.append('orders/1', [{ type: 'Placed', data: {} }]))).toBe('STRAND_TENANT_SUSPENDED');
    await a.resumeTenant('acme');
    await shop.append('orders/1', [{ type: 'Placed', data: {} }]);
    await a.deletePrincipal('acme', p.id);
    expect(await errorCode(shop.append('orders/1', [{ type: 'Placed', data: {} }]))).toBe('STRAND_UNAUTHENTICATED');
    await a.deleteTenant('acme');
    expect(await a.listTenants()).toEqual([]);
    expect(await errorCode(a.usage('acme'))).toBe('STRAND_TENANT_NOT_FOUND');
  });

  it('refuses tenant keys, however privileged, and bad keys, alike', async () => {
    const a = admin();
    await a.createTenant('root-ish');
    const key = (await a.createPrincipal('root-ish', (['read', 'append', 'subscribe', 'schemas', 'admin'] as const).map((permission) => ({ permission, pattern: '>' })))).apiKey;
    for (const k of [key, 'not-the-admin-key-at-all', `${server.adminKey.slice(0, -2)}xx`]) {
      const imposter = connectAdmin({ url, adminKey: k });
      closers.push(() => imposter.close());
      expect(await errorCode(imposter.listTenants())).toBe('STRAND_UNAUTHENTICATED');
      expect(await errorCode(imposter.createTenant('evil'))).toBe('STRAND_UNAUTHENTICATED');
      expect(await errorCode(imposter.createPrincipal('root-ish', [{ permission: 'read', pattern: '>' }]))).toBe('STRAND_UNAUTHENTICATED');
    }
    expect((await a.listTenants()).map((t) => t.name)).toEqual(['root-ish']);
    await a.deleteTenant('root-ish');
  });

  it('keeps tenant A from reading or subscribing to tenant B on every RPC', async () => {
    const a = admin();
    await a.createTenant('ta');
    await a.createTenant('tb');
    const all = (['read', 'append', 'subscribe'] as const).map((permission) => ({ permission, pattern: '>' }));
    const keyA = (await a.createPrincipal('ta', all)).apiKey;
    const keyB = (await a.createPrincipal('tb', all)).apiKey;
    const A = client(keyA);
    const B = client(keyB);
    await B.append('shared/name', [{ type: 'Secret', data: { of: 'B' } }]);
    await A.append('shared/name', [{ type: 'Mine', data: { of: 'A' } }]);
    // Same stream names, separate logs: A sees only its own, live and in catch-up.
    expect((await collect(A.readStream('shared/name'))).map((e) => e.type)).toEqual(['Mine']);
    expect((await collect(A.readAll())).map((e) => e.type)).toEqual(['Mine']);
    const live = firstValueFrom(A.subscribe('>', { from: 1 }).pipe(take(2), toArray()));
    await B.append('shared/name', [{ type: 'Secret', data: { of: 'B' } }]);
    await A.append('shared/other', [{ type: 'Mine2', data: {} }]);
    expect((await live).map((e) => e.type)).toEqual(['Mine', 'Mine2']);
    expect((await A.listChildren('')).entries.map((e) => e.name)).toEqual(['shared']);
    expect(await A.headPosition()).toBe(2);
    expect(await B.headPosition()).toBe(2);
    // Schemas and projections are per tenant too.
    expect((await A.schemas()).list()).toEqual([]);
    expect(await A.projections().list()).toEqual([]);
    // Tenant administration is not a tenant's business.
    const asTenant = connectAdmin({ url, adminKey: keyA });
    closers.push(() => asTenant.close());
    expect(await errorCode(asTenant.listTenants())).toBe('STRAND_UNAUTHENTICATED');
  });
});

describe('tenant administration on a single-log server', () => {
  it('is STRAND_NO_TENANTS', async () => {
    const { EventLog } = await import('@strand/core');
    const log = await EventLog.open({ store: new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }), ownsStore: true });
    const single = createServer({ log });
    const a = connectAdmin({ url: await single.listen(), adminKey: single.adminKey });
    try {
      expect(await errorCode(a.listTenants())).toBe('STRAND_NO_TENANTS');
    } finally {
      await a.close();
      await single.close();
      await log.close();
    }
  });
});
