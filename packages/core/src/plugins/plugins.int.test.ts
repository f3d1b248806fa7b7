import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { container } from 'tsyringe';
import { afterAll, describe, expect, it } from 'vitest';
import { isStrandError } from '../errors.js';
import { EventLog } from '../log.js';
import type { AppendInterceptor, Sublevel } from '../plugins.js';
import { TenantManager } from '../tenancy/manager.js';
import type { RecordedEvent } from '../types.js';
import { logOptionsFrom, StrandTokens, tenantManagerOptionsFrom } from './container.js';
import { Encryption, isEncryptedPayload } from './encryption.js';
import { LevelKeyProvider, MemoryKeyProvider } from './key-provider.js';
import { RateLimiter, TokenBucket } from './rate-limit.js';

const root = mkdtempSync(join(tmpdir(), 'strand-plugins-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const newDb = () => new ClassicLevel<Uint8Array, Uint8Array>(join(root, `db-${n++}`), { keyEncoding: 'view', valueEncoding: 'view' });

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Entity id of `users/<id>/...` streams: destroying it shreds every stream of the user. */
const entity = (stream: string) => stream.split('/')[1] ?? 'default';

async function openEncrypted(db: ClassicLevel<Uint8Array, Uint8Array>, master: Uint8Array, onMissingKey?: 'redact' | 'error') {
  const keysDb = db.sublevel('keys', { keyEncoding: 'utf8', valueEncoding: 'json' }) as unknown as Sublevel;
  const keys = await LevelKeyProvider.open(keysDb, master);
  const enc = new Encryption(onMissingKey === undefined ? { keys, keyFor: entity } : { keys, keyFor: entity, onMissingKey });
  const log = await EventLog.open({ store: db, appendInterceptors: [enc.append], readInterceptors: [enc.read] });
  return { log, keys };
}

describe('encryption at rest', () => {
  it('stores no plaintext, reads back, and crypto-shreds one entity everywhere', async () => {
    const db = newDb();
    const master = randomBytes(32);
    let { log, keys } = await openEncrypted(db, master);
    await log.append('users/u-1/profile', [{ type: 'Named', data: { name: 'Alice-SECRET' } }]);
    await log.append('users/u-1/orders', [{ type: 'Ordered', data: { item: 'Book-SECRET' } }]);
    await log.append('users/u-2/profile', [{ type: 'Named', data: { name: 'Bob' } }]);
    expect((await collect(log.readStream('users/u-1/profile')))[0]?.data).toEqual({ name: 'Alice-SECRET' });
    const raw = Buffer.concat((await db.values({ valueEncoding: 'buffer' }).all()) as Buffer[]);
    expect(raw.includes('SECRET')).toBe(false);

    await keys.destroyKey('u-1');
    const live: RecordedEvent[] = [];
    const abort = new AbortController();
    const following = (async () => {
      for await (const e of log.follow('users/>', { from: 1, signal: abort.signal })) {
        live.push(e);
        if (live.length === 4) abort.abort();
      }
    })();
    await log.append('users/u-2/orders', [{ type: 'Ordered', data: { item: 'Pen' } }]);
    await following;
    const redacted = { $redacted: 'key-destroyed', keyId: 'u-1' };
    expect(live.map((e) => e.data)).toEqual([redacted, redacted, { name: 'Bob' }, { item: 'Pen' }]);
    expect(isStrandError(await log.append('users/u-1/profile', [{ type: 'Named', data: {} }]).catch((e: unknown) => e), 'STRAND_KEY_DESTROYED')).toBe(true);

    await log.close();
    ({ log, keys } = await openEncrypted(db, master, 'error'));
    expect((await collect(log.readStream('users/u-2/profile')))[0]?.data).toEqual({ name: 'Bob' });
    const err = await collect(log.readAll()).catch((e: unknown) => e);
    expect(isStrandError(err, 'STRAND_KEY_DESTROYED')).toBe(true);
    await log.close();
    await db.close();
  });

  it('refuses a payload moved to another stream (AAD binds stream and type)', async () => {
    const keys = new MemoryKeyProvider();
    const enc = new Encryption({ keys });
    const [sealed] = await enc.append.onAppend([{ type: 'T', data: { x: 1 } }], { stream: 's/1' });
    const event = { stream: 's/1', version: 1, position: 1, type: 'T', id: 'i', timestamp: 0, data: sealed!.data, metadata: undefined, schemaVersion: undefined };
    expect(isEncryptedPayload(sealed!.data)).toBe(true);
    expect(enc.read.onRead(event)?.data).toEqual({ x: 1 });
    expect(() => enc.read.onRead({ ...event, stream: 's/2' })).toThrow(expect.objectContaining({ code: 'STRAND_CORRUPTION' }));
    await expect(enc.append.onAppend([{ type: 'T', data: { n: 1n } }], { stream: 's/1' })).rejects.toMatchObject({ code: 'STRAND_INVALID_EVENT' });
  });

  it('encrypts a tenant with its own keys through TenantManager plugins', async () => {
    const db = newDb();
    const master = randomBytes(32);
    const tenants = await TenantManager.open({
      store: db,
      plugins: async ({ sublevel }) => {
        const enc = new Encryption({ keys: await LevelKeyProvider.open(sublevel('keys'), master) });
        return { appendInterceptors: [enc.append], readInterceptors: [enc.read] };
      },
    });
    await tenants.createTenant('acme');
    const c = tenants.authenticate(
      (
        await tenants.createPrincipal('acme', [
          { permission: 'append', pattern: '>' },
          { permission: 'read', pattern: '>' },
        ])
      ).apiKey,
    );
    await c.append('s/1', [{ type: 'T', data: { v: 'TOP-SECRET' } }]);
    expect((await collect(c.readStream('s/1')))[0]?.data).toEqual({ v: 'TOP-SECRET' });
    expect((await tenants.usage('acme')).bytesAppended).toBe(Buffer.byteLength('{"v":"TOP-SECRET"}'));
    const raw = Buffer.concat((await db.values({ valueEncoding: 'buffer' }).all()) as Buffer[]);
    expect(raw.includes('TOP-SECRET')).toBe(false);
    await tenants.close();
    await db.close();
  });
});

describe('rate limiting', () => {
  it('refills with the clock and charges nothing for a refused append', () => {
    let now = 0;
    const limiter = new RateLimiter({ appendEventsPerSecond: 100, appendBytesPerSecond: 50 }, () => now);
    const e = { type: 'T', data: 'x'.repeat(18) }; // 20 JSON bytes
    limiter.onAppend([e, e]);
    const err = (() => {
      try {
        limiter.onAppend([e, e]);
      } catch (x) {
        return x;
      }
    })();
    expect(err).toMatchObject({ code: 'STRAND_QUOTA_EXCEEDED', details: { limit: 'appendBytesPerSecond', max: 50, retryAfterMs: 600 } });
    now += 600;
    limiter.onAppend([e, e]);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => limiter.onAppend([{ type: 'T', data: cyclic }])).toThrow(expect.objectContaining({ code: 'STRAND_INVALID_EVENT' }));
    const bucket = new TokenBucket(10, () => now);
    expect(bucket.tryTake(25)).toBe(0);
    expect(bucket.waitFor(1)).toBe(1600);
  });
});

describe('tsyringe composition root', () => {
  it('assembles log options from registered plugins, in order', async () => {
    const db = newDb();
    const c = container.createChildContainer();
    const seen: string[] = [];
    const tag = (name: string): AppendInterceptor => ({ name, onAppend: (events) => {
        seen.push(name);
        return events;
      },
    });
    c.register(StrandTokens.Store, { useValue: db });
    c.register(StrandTokens.AppendInterceptor, { useValue: tag('first') });
    c.register(StrandTokens.AppendInterceptor, { useValue: new RateLimiter({ appendEventsPerSecond: 1 }) });
    c.register(StrandTokens.AppendInterceptor, { useValue: tag('third') });
    const log = await EventLog.open(logOptionsFrom(c));
    await log.append('s/1', [{ type: 'T', data: 1 }]);
    expect(seen).toEqual(['first', 'third']);
    expect(isStrandError(await log.append('s/1', [{ type: 'T', data: 2 }]).catch((e: unknown) => e), 'STRAND_QUOTA_EXCEEDED')).toBe(true);
    expect(() => logOptionsFrom(container.createChildContainer())).toThrow(expect.objectContaining({ code: 'STRAND_INVALID_ARGUMENT' }));
    await log.close();
    await db.close();
  });

  it('assembles a tenant manager: store, quota policy, interceptors for every tenant', async () => {
    const db = newDb();
    const c = container.createChildContainer();
    const upper: AppendInterceptor = { name: 'upper', onAppend: (events) => events.map((e) => ({ ...e, type: e.type.toUpperCase() })) };
    c.register(StrandTokens.Store, { useValue: db });
    c.register(StrandTokens.QuotaPolicy, { useValue: { streams: 1 } });
    c.register(StrandTokens.AppendInterceptor, { useValue: upper });
    const tenants = await TenantManager.open(tenantManagerOptionsFrom(c));
    expect((await tenants.createTenant('x')).quotas).toEqual({ streams: 1 });
    const log = (await tenants.tenant('x')).log;
    expect((await log.append('s/1', [{ type: 'made', data: 1 }])).events[0]?.type).toBe('MADE');
    expect(isStrandError(await log.append('s/2', [{ type: 'made', data: 1 }]).catch((e: unknown) => e), 'STRAND_QUOTA_EXCEEDED')).toBe(true);
    await tenants.close();
    await db.close();
  });
});
