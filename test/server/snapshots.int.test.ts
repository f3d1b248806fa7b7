/**
 * Aggregate snapshots through the network (SnapshotService): what an aggregate repository wrote
 * beside the log, listed in pages below a prefix and read with its state and stored size; only
 * the streams a key may read, and only its own tenant's.
 */
import { AggregateRepository, defineAggregate } from '@strand/aggregate';
import { SnapshotStore } from '@strand/aggregate/snapshots';
import { errorCode } from '@strand/core/testing';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { allGrants, cleanup, type Running, startServer, tenantServer } from './harness.js';

const Counter = defineAggregate({
  name: 'counter',
  stream: (id) => id,
  commands: { Add: z.object({ n: z.number().int() }) },
  events: { Added: z.object({ n: z.number().int() }) },
  state: z.object({ total: z.number().int(), label: z.string() }),
  initialState: () => ({ total: 0, label: 'ünïcode state' }),
  decide: { Add: (c) => ({ type: 'Added', data: { n: c.n } }) },
  evolve: { Added: (s, e) => ({ ...s, total: s.total + e.n }) },
});

/** Adds `n` to each stream's counter (one command per stream) and snapshots it. */
async function seed(log: ConstructorParameters<typeof AggregateRepository>[0], streams: readonly string[], n = 3): Promise<void> {
  const repo = new AggregateRepository(log, Counter);
  for (const s of streams) {
    for (let i = 1; i <= n; i++) await repo.handle(s, { type: 'Add', data: { n: i } });
    await repo.snapshot(s);
  }
  await repo.close();
}

describe('snapshots of a single log', () => {
  let s: Running;
  beforeEach(async () => {
    s = await startServer('leveldb');
  });
  afterEach(() => s.close());
  afterAll(cleanup);

  it('lists them in stream order with version and stored size, pages with `next`, filters by prefix, and reads one with its state', async () => {
    const streams = ['stock/a', 'stock/b', 'stock/c', 'stock/deep/d', 'orders/o-1', 'other'];
    await seed(s.log, streams);
    await s.log.append('stock/plain', [{ type: 'T', data: 1 }]); // a stream without a snapshot
    const c = s.client();
    const all = await c.snapshots().list();
    expect(all.snapshots.map((x) => x.stream)).toEqual([...streams].sort());
    expect(all.next).toBeUndefined();
    const local = new SnapshotStore(s.log);
    for (const x of all.snapshots) {
      expect(x).toMatchObject({ version: 3, aggregate: 'counter', stateVersion: Counter.stateVersion });
      // The size is the bytes stored: the record's JSON as the aggregate package wrote it.
      const stored = (await local.inspect(x.stream))!;
      expect(x.bytes).toBe(stored.bytes);
      expect(x.bytes).toBe(Buffer.byteLength(JSON.stringify(stored.record)));
      expect(x.takenAt).toBe(stored.record.takenAt);
    }

    // Pages of two, in order, each page starting after the last.
    const paged: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await c.snapshots().list('', { limit: 2, ...(after === undefined ? {} : { after }) });
      expect(page.snapshots.length).toBeLessThanOrEqual(2);
      paged.push(...page.snapshots.map((x) => x.stream));
      after = page.next;
      pages++;
    } while (after !== undefined);
    expect(paged).toEqual([...streams].sort());
    expect(pages).toBe(3);

    // Below a prefix: its descendants only (not `stock/plain`, which has none; not `other`).
    expect((await c.snapshots().list('stock')).snapshots.map((x) => x.stream)).toEqual(['stock/a', 'stock/b', 'stock/c', 'stock/deep/d']);
    expect((await c.snapshots().list('stock', { after: 'stock/b' })).snapshots.map((x) => x.stream)).toEqual(['stock/c', 'stock/deep/d']);

    const one = await c.snapshots().get('stock/b');
    expect(one).toMatchObject({ stream: 'stock/b', version: 3, aggregate: 'counter', state: { total: 6, label: 'ünïcode state' } });
    expect(one!.bytes).toBe((await local.inspect('stock/b'))!.bytes);
    expect(await c.snapshots().get('stock/plain')).toBeUndefined();
    expect(await c.snapshots().get('nowhere')).toBeUndefined();
    expect(await errorCode(c.snapshots().get(''))).toBe('STRAND_INVALID_STREAM_NAME');
    expect(await errorCode(c.snapshots().list('', { limit: 100_000 }))).toBe('STRAND_INVALID_ARGUMENT');
  });
});

describe('snapshots of tenants', () => {
  const keys = { acme: '', acmeOrders: '', acmeNoRead: '', globex: '' };
  const t = tenantServer(async (tenants) => {
    await tenants.createTenant('acme');
    await tenants.createTenant('globex');
    keys.acme = (await tenants.createPrincipal('acme', allGrants)).apiKey;
    keys.acmeOrders = (await tenants.createPrincipal('acme', [{ permission: 'read', pattern: 'orders/>' }])).apiKey;
    keys.acmeNoRead = (await tenants.createPrincipal('acme', [{ permission: 'append', pattern: '>' }, { permission: 'subscribe', pattern: '>' }])).apiKey;
    keys.globex = (await tenants.createPrincipal('globex', allGrants)).apiKey;
    await seed((await tenants.tenant('acme')).log, ['orders/o-1', 'orders/o-2', 'secret/payroll']);
    await seed((await tenants.tenant('globex')).log, ['orders/g-1'], 1);
  });
  const client = t.client;

  it('a tenant sees only its own snapshots', async () => {
    expect((await client(keys.acme).snapshots().list()).snapshots.map((x) => x.stream)).toEqual(['orders/o-1', 'orders/o-2', 'secret/payroll']);
    expect((await client(keys.globex).snapshots().list()).snapshots.map((x) => x.stream)).toEqual(['orders/g-1']);
    // The same name in another tenant is not there, whatever the key may do in its own.
    expect(await client(keys.globex).snapshots().get('orders/o-1')).toBeUndefined();
    expect(await client(keys.acme).snapshots().get('orders/g-1')).toBeUndefined();
    expect((await client(keys.globex).snapshots().get('orders/g-1'))?.state).toEqual({ total: 1, label: 'ünïcode state' });
  });

  it('a key sees only the snapshots of streams it may read; reading another is refused; a key without read lists nothing', async () => {
    const narrow = client(keys.acmeOrders);
    expect((await narrow.snapshots().list()).snapshots.map((x) => x.stream)).toEqual(['orders/o-1', 'orders/o-2']);
    expect((await narrow.snapshots().list('secret')).snapshots).toEqual([]);
    expect((await narrow.snapshots().get('orders/o-2'))?.state).toEqual({ total: 6, label: 'ünïcode state' });
    expect(await errorCode(narrow.snapshots().get('secret/payroll'))).toBe('STRAND_ACCESS_DENIED');
    // Refused the same whether or not a snapshot exists.
    expect(await errorCode(narrow.snapshots().get('secret/none'))).toBe('STRAND_ACCESS_DENIED');
    const noRead = client(keys.acmeNoRead);
    expect(await errorCode(noRead.snapshots().list())).toBe('STRAND_ACCESS_DENIED');
    expect(await errorCode(noRead.snapshots().get('orders/o-1'))).toBe('STRAND_ACCESS_DENIED');
    expect(await errorCode(client('strand_nope_0123456789abcdef').snapshots().list())).toBe('STRAND_UNAUTHENTICATED');
  });
});
