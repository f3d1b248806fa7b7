
import type { EventStore } from '@strand/core';
import { collect, errorCode } from '@strand/core/testing';
import { firstValueFrom } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { groupsWire } from '@strand/protocol';
import { allGrants, rawTransport, tenantServer } from './harness.js';

const keys: Record<'a' | 'aNarrow' | 'b', string> = { a: '', aNarrow: '', b: '' };
const t = tenantServer(async (tenants) => {
  await tenants.createTenant('acme');
  await tenants.createTenant('globex');
  keys.a = (await tenants.createPrincipal('acme', allGrants)).apiKey;
  keys.aNarrow = (await tenants.createPrincipal('acme', (['read', 'append', 'subscribe'] as const).map((permission) => ({ permission, pattern: 'orders/>' })))).apiKey;
  keys.b = (await tenants.createPrincipal('globex', allGrants)).apiKey;
});
const client = t.client;

beforeAll(async () => {
  await client(keys.a).append('secret/x', [{ type: 'T', data: { pin: 1234 } }]);
  await client(keys.a).append('orders/o-1', [{ type: 'T', data: 1 }]);
});

/** Every operation of the store interface on `stream` (and patterns below its first segment). */
const operations = (stream: string): Record<string, (s: EventStore) => Promise<unknown>> => {
  const top = stream.split('/')[0]!;
  return {
    append: (s) => s.append(stream, [{ type: 'Evil', data: 1 }]),
    appendMulti: (s) => s.appendMulti([{ stream, events: [{ type: 'Evil', data: 1 }] }]),
    readStream: (s) => collect(s.readStream(stream)),
    streamInfo: (s) => s.streamInfo(stream),
    deleteStream: (s) => s.deleteStream(stream),
    truncateBefore: (s) => s.truncateBefore(stream, 1),
    subscribe: (s) => firstValueFrom(s.subscribe(`${top}/>`, { from: 1 })),
    readAll: (s) => collect(s.readAll({ pattern: `${top}/>` })),
    listChildren: (s) => s.listChildren(top),
    headPosition: (s) => s.headPosition(),
    waitForPosition: (s) => s.waitForPosition(1, 100),
  };
};

async function acmeUnchanged(): Promise<void> {
  const log = (await t.tenants.tenant('acme')).log;
  expect(log.position).toBe(2);
  expect((await collect(log.readAll())).map((e) => [e.stream, e.type])).toEqual([
    ['secret/x', 'T'],
    ['orders/o-1', 'T'],
  ]);
}

describe('security matrix', () => {
  it('refuses every operation with a malformed, unknown or forged key, writing nothing', async () => {
    const forged = `${keys.a.slice(0, -4)}AAAA`;
    for (const key of ['not-a-strand-key', 'strand_000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', forged]) {
      for (const [name, op] of Object.entries(operations('secret/x'))) {
        expect(await errorCode(op(client(key))), `${name} with key ${key.slice(0, 12)}`).toBe('STRAND_UNAUTHENTICATED');
      }
      expect(await errorCode(client(key).countStreams()), `countStreams with key ${key.slice(0, 12)}`).toBe('STRAND_UNAUTHENTICATED');
    }
    await acmeUnchanged();
  });

  it('denies a narrow grant everything outside it, with one message, writing nothing', async () => {
    const narrow = client(keys.aNarrow);
    const messages = new Set<string>();
    for (const stream of ['secret/x', 'secret/does-not-exist']) {
      for (const [name, op] of Object.entries(operations(stream))) {
        if (name === 'readAll' || name === 'listChildren' || name === 'headPosition' || name === 'waitForPosition' || name === 'subscribe') continue;
        try {
          await op(narrow);
          expect.unreachable(`${name} on ${stream} should be denied`);
        } catch (error) {
          expect((error as { code?: string }).code, `${name} on ${stream}`).toBe('STRAND_ACCESS_DENIED');
          messages.add((error as Error).message);
        }
      }
    }
    // Existing and missing streams are refused alike: nothing tells them apart.
    expect(messages.size).toBe(1);
    // Tenant-wide reads show only what the grant covers.
    expect((await collect(narrow.readAll())).map((e) => e.stream)).toEqual(['orders/o-1']);
    expect((await narrow.listChildren('')).entries.map((e) => e.name)).toEqual(['orders']);
    expect(await collect(narrow.readAll({ pattern: 'secret/>' }))).toEqual([]);
    // Stream counts count only what the grant may read.
    expect([await narrow.countStreams(), await narrow.countStreams('secret'), await narrow.countStreams('orders', { below: true })]).toEqual([1, 0, 1]);
    expect(await client(keys.a).countStreams()).toBe(2);
    // Deleting and truncating need admin even inside the grant.
    expect(await errorCode(narrow.deleteStream('orders/o-1'))).toBe('STRAND_ACCESS_DENIED');
    expect(await errorCode(narrow.truncateBefore('orders/o-1', 1))).toBe('STRAND_ACCESS_DENIED');
    await acmeUnchanged();
  });

  it("keeps another tenant's key in its own namespace", async () => {
    const b = client(keys.b);
    expect(await b.streamInfo('secret/x')).toBeUndefined();
    expect(await collect(b.readAll())).toEqual([]);
    expect((await b.listChildren('')).entries).toEqual([]);
    expect(await b.headPosition()).toBe(0);
    expect(await b.countStreams()).toBe(0);
    await b.append('secret/x', [{ type: 'Mine', data: 1 }]);
    expect((await collect(b.readStream('secret/x'))).map((e) => e.type)).toEqual(['Mine']);
    await acmeUnchanged();
  });

  it('refuses the consumer group calls with a malformed, unknown or forged key, and lets a good key through', async () => {
    const forged = `${keys.a.slice(0, -4)}AAAA`;
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => ConnectError.from(e).code,
      );
    const calls = (key: string) => {
      const rpc = createClient(groupsWire.ConsumerGroupService, rawTransport(t.url, key, { useBinaryFormat: true }));
      return {
        groupHeartbeat: rpc.groupHeartbeat({ group: 'g', memberId: 'm' }),
        ackDelivery: rpc.ackDelivery({ group: 'g', memberId: 'm', stream: 'orders/o-1', epoch: 1n, version: 1n }),
        nackDelivery: rpc.nackDelivery({ group: 'g', memberId: 'm', stream: 'orders/o-1', epoch: 1n, version: 1n, error: 'x' }),
        leaveGroup: rpc.leaveGroup({ group: 'g', memberId: 'm' }),
        listParked: rpc.listParked({ group: 'g' }),
      };
    };
    for (const key of ['not-a-strand-key', forged]) {
      for (const [name, call] of Object.entries(calls(key))) expect(await codeOf(call), `${name} with key ${key.slice(0, 12)}`).toBe(Code.Unauthenticated);
    }
    // The tenant's own key passes authentication: whatever these calls answer, it is not that.
    for (const [name, call] of Object.entries(calls(keys.a))) expect(await codeOf(call), name).not.toBe(Code.Unauthenticated);
    await acmeUnchanged();
  });

  it("refuses credits for another principal's subscription", async () => {
    const a = client(keys.a);
    const got = firstValueFrom(a.subscribe('orders/>', { from: 1 }));
    expect((await got).stream).toBe('orders/o-1');
    const res = await fetch(`${t.url}/strand.v1.EventStoreService/GrantCredits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.b}` },
      body: JSON.stringify({ subscriptionId: 'guess', events: 10 }),
    });
    expect(res.status).toBe(403);
  });
});
