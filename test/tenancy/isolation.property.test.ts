import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStrandError, type RecordedEvent } from '@strand/core';
import { allows, type Grant, TenantManager } from '@strand/core/tenancy';
import { ClassicLevel } from 'classic-level';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Adversarial isolation: generated tenant names (look-alikes, separators, unicode, NUL), stream
// names over a tiny alphabet (so names and patterns collide across tenants), and generated grants.
// Whatever is generated, a principal reads, lists, counts and receives exactly what its grants
// allow in its own tenant, and the same error otherwise.

const root = mkdtempSync(join(tmpdir(), 'strand-tenancy-prop-'));
let db: ClassicLevel<Uint8Array, Uint8Array>;
let tenants: TenantManager;
beforeAll(async () => {
  db = new ClassicLevel(join(root, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
  tenants = await TenantManager.open({ store: db, logOptions: { durability: 'buffered' } });
});
afterAll(async () => {
  await tenants.close();
  await db.close();
  rmSync(root, { recursive: true, force: true });
});

const tenantName = fc.oneof(
  fc.constantFrom('a', 'ab', 'a!', '!a', 'a!b', 'a\u0000', 't61', '!t61!', 'é', 'e\u0301', '/', 'a/b'),
  fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }),
  fc.string({ minLength: 1, maxLength: 6, unit: 'binary' }).filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s),
);
const segment = fc.constantFrom('a', 'b', 'ab', 'a.b', 'b~');
const streamName = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
const pattern = fc
  .tuple(fc.array(fc.oneof(segment, fc.constant('*')), { minLength: 0, maxLength: 2 }), fc.oneof(segment, fc.constant('*'), fc.constant('>')))
  .map(([head, last]) => [...head, last].join('/'));
const grant = fc.record({ permission: fc.constantFrom('read' as const, 'subscribe' as const, 'append' as const), pattern });

const END = 'zzz/end';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function denied(p: Promise<unknown> | (() => unknown)): Promise<boolean> {
  try {
    await (typeof p === 'function' ? p() : p);
    return false;
  } catch (e) {
    if (isStrandError(e, 'STRAND_ACCESS_DENIED')) return true;
    throw e;
  }
}

describe('tenant isolation and grants (property)', () => {
  it('a principal never reads, lists, counts or receives anything outside its grants', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(tenantName, { minLength: 2, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(3), streamName), { minLength: 1, maxLength: 12 }),
        fc.array(grant, { maxLength: 4 }),
        fc.nat(3),
        async (names, writes, grants, who) => {
          const created: string[] = [];
          try {
            for (const name of names) {
              await tenants.createTenant(name);
              created.push(name);
            }
            const own = names[who % names.length]!;
            const written = new Map<string, Set<string>>(names.map((n) => [n, new Set<string>()]));
            for (const [t, stream] of writes) {
              const name = names[t % names.length]!;
              await (await tenants.tenant(name)).log.append(stream, [{ type: 'E', data: { tenant: name, stream } }]);
              written.get(name)!.add(stream);
            }
            const all: Grant[] = [...grants, { permission: 'subscribe', pattern: END }];
            const c = tenants.authenticate((await tenants.createPrincipal(own, all)).apiKey);
            const mine = [...written.get(own)!].sort();
            const everyStream = new Set([...written.values()].flatMap((s) => [...s]));
            everyStream.add('ab/ab/ab');

            for (const stream of everyStream) {
              if (allows(all, 'read', stream)) {
                const events = await collect(c.readStream(stream));
                expect(events.every((e) => (e.data as { tenant: string }).tenant === own && e.stream === stream)).toBe(true);
                expect(events.length).toBe(writes.filter(([t, s]) => names[t % names.length] === own && s === stream).length);
              } else {
                expect(await denied(collect(c.readStream(stream)))).toBe(true);
                expect(await denied(c.streamInfo(stream))).toBe(true);
              }
              if (!allows(all, 'append', stream)) expect(await denied(c.append(stream, [{ type: 'X', data: 0 }]))).toBe(true);
            }

            const readable = mine.filter((s) => allows(all, 'read', s));
            if (all.some((g) => g.permission === 'read')) {
              const events = await collect(c.readAll());
              expect(events.every((e) => (e.data as { tenant: string }).tenant === own && allows(all, 'read', e.stream))).toBe(true);
              expect(new Set(events.map((e) => e.stream))).toEqual(new Set(readable));
              // Hierarchy order (segment by segment) differs from string order: compare as sets.
              expect([...(await c.listStreams())].sort()).toEqual(readable);
              expect(await c.countStreams('a')).toBe(readable.filter((s) => s === 'a' || s.startsWith('a/')).length);
            } else {
              expect(await denied(collect(c.readAll()))).toBe(true);
              expect(await denied(c.listStreams())).toBe(true);
              expect(await denied(c.countStreams())).toBe(true);
            }

            // Subscriptions: everything up to a closing event, then stop; the closing event comes
            // after every other one, so a leaked event cannot hide behind the stop.
            const log = (await tenants.tenant(own)).log;
            await log.append(END, [{ type: 'End', data: { tenant: own, stream: END } }]);
            const seen: RecordedEvent[] = [];
            for await (const e of c.follow('>', { from: 1 })) {
              seen.push(e);
              if (e.stream === END) break;
            }
            const expected = (await collect(log.readAll())).filter((e) => allows(all, 'subscribe', e.stream));
            expect(seen.map((e) => e.position)).toEqual(expected.map((e) => e.position));
            expect(seen.every((e) => (e.data as { tenant: string }).tenant === own)).toBe(true);
          } finally {
            for (const name of created) await tenants.deleteTenant(name);
          }
        },
      ),
      { numRuns: Number(process.env.STRAND_PROP_RUNS ?? 40) },
    );
  });
});
