import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStrandError, type RecordedEvent } from '@strand/core';
import { TenantManager } from '@strand/core/tenancy';
import { ClassicLevel } from 'classic-level';
import { afterAll, describe, expect, it } from 'vitest';

// Several tenants appending and subscribing at once on one LevelDB: the per-tenant counters add up
// exactly to what the clients saw succeed, every subscriber sees exactly its tenant's events, and
// the stream, storage and subscription quotas hold under concurrency.

const root = mkdtempSync(join(tmpdir(), 'strand-tenancy-load-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TENANTS = 4;
const WRITERS = 4;
const APPENDS = Number(process.env.STRAND_SOAK ? 400 : 40);
const STREAMS = 30;

describe('tenancy under load', () => {
  it('counts exactly and holds quotas with concurrent appenders and subscribers', async () => {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(root, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
    const tenants = await TenantManager.open({ store: db });
    const quotas = [{ streams: 12, subscriptions: 2 }, { storageBytes: 2_000, subscriptions: 2 }, { subscriptions: 2 }, { subscriptions: 2 }];
    const clients = [];
    for (let t = 0; t < TENANTS; t++) {
      await tenants.createTenant(`tenant-${t}`, { quotas: quotas[t]! });
      const { apiKey } = await tenants.createPrincipal(`tenant-${t}`, [
        { permission: 'append', pattern: '>' },
        { permission: 'read', pattern: '>' },
        { permission: 'subscribe', pattern: '>' },
      ]);
      clients.push(tenants.authenticate(apiKey));
    }

    const subscribers = clients.flatMap((c, t) =>
      [0, 1].map(async () => {
        const seen: RecordedEvent[] = [];
        for await (const e of c.follow('>', { from: 1 })) {
          if (e.type === 'End') break;
          expect(e.data).toMatchObject({ t });
          seen.push(e);
        }
        return seen;
      }),
    );
    // The third subscription of a tenant is over its quota while the two others are open.
    const third = clients[0]!.follow('>')[Symbol.asyncIterator]();
    while ((await tenants.usage('tenant-0')).subscriptionsOpen < 2) await new Promise((r) => setImmediate(r));
    const over = await third.next().catch((e: unknown) => e);
    expect(isStrandError(over, 'STRAND_QUOTA_EXCEEDED') && over.details.limit).toBe('subscriptions');

    const ok = Array.from({ length: TENANTS }, () => ({ appends: 0, events: 0, bytes: 0, streams: new Set<string>(), refused: 0 }));
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    await Promise.all(
      clients.flatMap((c, t) =>
        Array.from({ length: WRITERS }, async (_, w) => {
          for (let i = 0; i < APPENDS; i++) {
            const stream = `s/${rand(STREAMS)}`;
            const events = Array.from({ length: 1 + rand(3) }, (_, k) => ({ type: 'E', data: { t, w, i, k } }));
            try {
              await c.append(stream, events);
              const s = ok[t]!;
              s.appends++;
              s.events += events.length;
              s.bytes += events.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e.data)), 0);
              s.streams.add(stream);
            } catch (e) {
              if (!isStrandError(e, 'STRAND_QUOTA_EXCEEDED')) throw e;
              ok[t]!.refused++;
            }
          }
        }),
      ),
    );
    // The quotas held under concurrency: exactly at the stream limit, never over the storage one.
    expect(ok[0]!.streams.size).toBe(12);
    expect((await tenants.usage('tenant-0')).streams).toBe(12);
    expect(ok[0]!.refused).toBeGreaterThan(0);
    expect(ok[1]!.bytes).toBeLessThanOrEqual(2_000);
    expect(ok[1]!.refused).toBeGreaterThan(0);
    expect(ok[2]!.refused + ok[3]!.refused).toBe(0);
    // Lift them (applies to the next call) so every tenant can append the event that ends its subscribers.
    for (const t of [0, 1]) await tenants.setQuotas(`tenant-${t}`, { subscriptions: 2 });
    for (const c of clients) await c.append('end/1', [{ type: 'End', data: {} }]);
    const seen = await Promise.all(subscribers);

    for (let t = 0; t < TENANTS; t++) {
      const u = await tenants.usage(`tenant-${t}`);
      const s = ok[t]!;
      expect(u.appends).toBe(s.appends + 1);
      expect(u.eventsAppended).toBe(s.events + 1);
      expect(u.bytesAppended).toBe(s.bytes + 2);
      expect(u.streams).toBe(s.streams.size + 1);
      expect(seen[2 * t]!.length).toBe(s.events);
      expect(seen[2 * t + 1]!.map((e) => e.position)).toEqual(seen[2 * t]!.map((e) => e.position));
      expect(u.eventsRead).toBe(2 * (s.events + 1)); // each subscriber also received its End
      expect(u.subscriptionsOpen).toBe(0);
      expect(u.subscriptionsOpened).toBe(2); // the refused third one is not counted
    }
    const text = await tenants.metrics();
    expect(text).toContain(`strand_tenant_events_appended_total{tenant="tenant-2"} ${ok[2]!.events + 1}`);
    await tenants.close();
    await db.close();
  });
});
