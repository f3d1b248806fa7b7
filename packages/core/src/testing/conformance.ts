/**
 * The event-log conformance suite, shipped as code: every storage backend runs it in one call
 * (`runLogConformance({ test, factory })`). Runner-agnostic: it needs only a `test(name, fn)`
 * function (vitest's `it`, node:test's `test`...) and uses node:assert.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { firstValueFrom, take, toArray } from 'rxjs';
import { isStrandError, WrongExpectedVersionError } from '../errors.js';
import { EventLog, type AnyLevel, type EventLogOptions } from '../log.js';
import type { EventStore } from '../store.js';
import type { EventInput, RecordedEvent } from '../types.js';
import { assertFailsClosed, CLOSED_OPERATIONS } from './closed.js';

/** How the suite gets a fresh, empty store. */
export interface ConformanceOptions {
  /** Registers one test, e.g. vitest's `it` or node:test's `test`. */
  test: (name: string, fn: () => Promise<void>) => void;
  /** Creates a fresh, empty, unopened or opened store. Called once per test. */
  factory: () => Promise<AnyLevel> | AnyLevel;
  /** Extra options for every log the suite opens. */
  logOptions?: Partial<Omit<EventLogOptions, 'store'>>;
  /** Prefix of every test name. Default `event log conformance`. */
  name?: string;
}

/** One fresh store under test, as {@link runStoreConformance} gets it. */
export interface StoreHarness {
  /** The store the tests drive (an `EventLog`, or a client of a server). */
  readonly store: EventStore;
  /**
   * The `EventLog` behind `store` (itself when embedded, the server's log when remote): the tests
   * of log-only features (commit hooks, read interceptors, verify) install them there and drive
   * them through `store`. Required when `supports.log` is true.
   */
  readonly log?: EventLog;
  /** After `store.close()`: opens the same data again. Required when `supports.reopen` is true. */
  readonly reopen?: () => Promise<EventStore>;
  /** Releases everything the harness opened (the store too, if still open). */
  close(): Promise<void>;
}

/** What {@link runStoreConformance} needs: a way to open a fresh store, and what it supports. */
export interface StoreConformanceOptions {
  /** Registers one test, e.g. vitest's `it` or node:test's `test`. */
  test: (name: string, fn: () => Promise<void>) => void;
  /** Opens a fresh, empty store. Called once per test. */
  open: () => Promise<StoreHarness>;
  /** Features beyond the `EventStore` interface whose tests run. Default: none. */
  supports?: {
    /** The harness gives the `EventLog` behind the store (commit hooks, interceptors, verify). */
    log?: boolean;
    /** The harness can reopen a closed store on the same data. */
    reopen?: boolean;
  };
  /** Prefix of every test name. Default `event store conformance`. */
  name?: string;
}

/** Collects an async iterable into an array. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

/** Awaits `p`: `'ok'` if it resolves, else the `StrandError`'s code; any other error is rethrown. */
export async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (error) {
    if (isStrandError(error)) return error.code;
    throw error;
  }
}

/** `n` simple events of type `T` with data `{ n: i }`. */
export function events(n: number, type = 'T', start = 0): EventInput[] {
  return Array.from({ length: n }, (_, i) => ({ type, data: { n: start + i } }));
}

async function rejectsWith(promise: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    assert.ok(isStrandError(error, code), `expected ${code}, got ${(error as Error)?.constructor?.name}: ${(error as { code?: string }).code} ${(error as Error).message}`);
    return;
  }
  assert.fail(`expected ${code}, but nothing was thrown`);
}

/** Registers the conformance tests for an `abstract-level` backend (an `EventLog` on each fresh store). */
export function runLogConformance(options: ConformanceOptions): void {
  const { factory } = options;
  runStoreConformance({
    test: options.test,
    name: options.name ?? 'event log conformance',
    supports: { log: true, reopen: true },
    open: async () => {
      const store = await factory();
      const log = await EventLog.open({ ...options.logOptions, store });
      return {
        store: log,
        log,
        reopen: () => EventLog.open({ ...options.logOptions, store }),
        close: async () => {
          await log.close();
          await store.close();
        },
      };
    },
  });

  const prefix = options.name ?? 'event log conformance';
  // Generated: one test per public operation (the table is checked against EventLog's type).
  for (const [name, call] of Object.entries(CLOSED_OPERATIONS)) {
    options.test(`${prefix}: ${name} fails once closed`, async () => {
      const log = await EventLog.open({ ...options.logOptions, store: await factory(), ownsStore: true });
      await log.append('closed/a', events(1));
      await log.close();
      await assertFailsClosed(name, call, log);
    });
  }

  options.test(`${prefix}: a sublevel of a closed log fails with the store's not-open error`, async () => {
    const log = await EventLog.open({ ...options.logOptions, store: await factory(), ownsStore: true });
    const sub = log.sublevel('kept');
    await log.close();
    await assert.rejects(sub.get('k'), (error: { code?: string }) => error.code === 'LEVEL_DATABASE_NOT_OPEN');
    await log.close();
    assert.equal(log.isClosed, true);
  });
}

/**
 * Registers the conformance tests for any {@link EventStore}: the embedded log, or a client of a
 * server. The suite is the contract: the same tests, whatever is behind the interface.
 */
export function runStoreConformance(options: StoreConformanceOptions): void {
  const { test } = options;
  const prefix = options.name ?? 'event store conformance';
  const supports = options.supports ?? {};
  const it = (name: string, fn: (log: EventStore, h: StoreHarness) => Promise<void>) =>
    test(`${prefix}: ${name}`, async () => {
      const h = await options.open();
      try {
        await fn(h.store, h);
      } finally {
        await h.close();
      }
    });
  const withLog = (name: string, fn: (log: EventStore, underlying: EventLog) => Promise<void>) => {
    if (supports.log) it(name, (log, h) => fn(log, h.log!));
  };

  it('appends and reads a stream in order with versions and positions', async (log) => {
    const r = await log.append('orders/eu/o-1', events(3), { expectedVersion: 'no_stream' });
    assert.equal(r.version, 3);
    assert.equal(r.firstPosition, 1);
    assert.equal(r.position, 3);
    const read = await collect(log.readStream('orders/eu/o-1'));
    assert.deepEqual(read.map((e) => [e.version, e.position, (e.data as { n: number }).n]), [[1, 1, 0], [2, 2, 1], [3, 3, 2]]);
    assert.equal(typeof read[0]!.id, 'string');
    const info = await log.streamInfo('orders/eu/o-1');
    assert.equal(info?.version, 3);
    assert.equal(await log.streamInfo('orders/eu/none'), undefined);
    assert.deepEqual(await collect(log.readStream('orders/eu/none')), []);
  });

  it('reads backwards and from a version with a limit', async (log) => {
    await log.append('s/a', events(10));
    const back = await collect(log.readStream('s/a', { direction: 'backwards', limit: 3 }));
    assert.deepEqual(back.map((e) => e.version), [10, 9, 8]);
    const mid = await collect(log.readStream('s/a', { from: 4, limit: 2 }));
    assert.deepEqual(mid.map((e) => e.version), [4, 5]);
    const backFrom = await collect(log.readStream('s/a', { direction: 'backwards', from: 2 }));
    assert.deepEqual(backFrom.map((e) => e.version), [2, 1]);
  });

  it('enforces every kind of expected version and writes nothing on mismatch', async (log) => {
    await rejectsWith(log.append('s/x', events(1), { expectedVersion: 'stream_exists' }), 'STRAND_WRONG_EXPECTED_VERSION');
    await rejectsWith(log.append('s/x', events(1), { expectedVersion: 1 }), 'STRAND_WRONG_EXPECTED_VERSION');
    await log.append('s/x', events(1), { expectedVersion: 0 });
    await rejectsWith(log.append('s/x', events(1), { expectedVersion: 'no_stream' }), 'STRAND_WRONG_EXPECTED_VERSION');
    try {
      await log.append('s/x', events(2), { expectedVersion: 5 });
      assert.fail('should throw');
    } catch (error) {
      assert.ok(error instanceof WrongExpectedVersionError, String(error));
      assert.equal(error.actual, 1);
      assert.equal(error.expected, 5);
    }
    await log.append('s/x', events(1), { expectedVersion: 'stream_exists' });
    await log.append('s/x', events(1), { expectedVersion: 2 });
    await log.append('s/x', events(1), { expectedVersion: 'any' });
    assert.equal((await log.streamInfo('s/x'))?.version, 4);
    assert.equal(await log.headPosition(), 4);
    assert.equal((await collect(log.readAll())).length, 4);
  });

  it('appends to several streams atomically, all or nothing', async (log) => {
    await log.append('acc/a', events(1));
    await rejectsWith(
      log.appendMulti([
        { stream: 'acc/a', events: events(1), expectedVersion: 1 },
        { stream: 'acc/b', events: events(1), expectedVersion: 3 },
      ]),
      'STRAND_WRONG_EXPECTED_VERSION',
    );
    assert.equal((await log.streamInfo('acc/a'))?.version, 1);
    assert.equal(await log.streamInfo('acc/b'), undefined);
    const r = await log.appendMulti([
      { stream: 'acc/a', events: events(1), expectedVersion: 1 },
      { stream: 'acc/b', events: events(2), expectedVersion: 'no_stream' },
    ]);
    assert.deepEqual(r.results.map((x) => [x.stream, x.version]), [['acc/a', 2], ['acc/b', 2]]);
    assert.equal(r.position, 4);
    const all = await collect(log.readAll());
    assert.deepEqual(all.map((e) => e.position), [1, 2, 3, 4]);
  });

  it('returns the original result for a retried append and writes nothing', async (log) => {
    const batch = [{ type: 'T', data: 1, id: 'e-1' }, { type: 'T', data: 2, id: 'e-2' }];
    const first = await log.append('s/i', batch, { expectedVersion: 'no_stream' });
    await log.append('s/other', events(1));
    const again = await log.append('s/i', batch, { expectedVersion: 'no_stream' });
    assert.equal(again.idempotent, true);
    assert.equal(again.version, first.version);
    assert.equal(again.position, first.position);
    const anyAgain = await log.append('s/i', batch, { expectedVersion: 'any' });
    assert.equal(anyAgain.idempotent, true);
    assert.equal(await log.headPosition(), 3);
    await rejectsWith(
      log.append('s/i', [{ type: 'T', data: 3, id: 'e-1' }, { type: 'T', data: 4, id: 'e-new' }], { expectedVersion: 0 }),
      'STRAND_DUPLICATE_EVENT_ID',
    );
    await rejectsWith(log.append('s/i', [{ type: 'T', data: 3, id: 'e-9' }], { expectedVersion: 0 }), 'STRAND_WRONG_EXPECTED_VERSION');
  });

  it('assigns gapless global positions in commit order under concurrent appends', async (log) => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(`c/s-${i % 20}`, events(1 + (i % 3)))));
    const total = results.reduce((n, r) => n + r.events.length, 0);
    const all = await collect(log.readAll());
    assert.equal(all.length, total);
    all.forEach((e, i) => assert.equal(e.position, i + 1));
    const perStream = new Map<string, number>();
    for (const e of all) {
      const v = (perStream.get(e.stream) ?? 0) + 1;
      assert.equal(e.version, v, `stream ${e.stream} versions must follow global order`);
      perStream.set(e.stream, v);
    }
  });

  it('reads all events from a position, and by pattern', async (log) => {
    await log.append('orders/eu/o-1', events(1));
    await log.append('orders/us/o-1', events(1));
    await log.append('orders/eu/o-2', events(1));
    await log.append('users/u-1', events(1));
    await log.append('orders/eu/o-1/lines', events(1));
    const from3 = await collect(log.readAll({ from: 3 }));
    assert.deepEqual(from3.map((e) => e.position), [3, 4, 5]);
    const eu = await collect(log.readAll({ pattern: 'orders/eu/*' }));
    assert.deepEqual(eu.map((e) => e.stream), ['orders/eu/o-1', 'orders/eu/o-2']);
    const allOrders = await collect(log.readAll({ pattern: 'orders/>' }));
    assert.equal(allOrders.length, 4);
    const o1 = await collect(log.readAll({ pattern: 'orders/*/o-1' }));
    assert.deepEqual(o1.map((e) => e.stream), ['orders/eu/o-1', 'orders/us/o-1']);
    const limited = await collect(log.readAll({ limit: 2 }));
    assert.equal(limited.length, 2);
  });

  it('reads across many pages: limits, early stops, filters and truncated holes', async (log) => {
    // Long enough for several read-ahead pages (256, 512, 1024...).
    const n = 2_600;
    for (let i = 0; i < n; i += 200) {
      await log.append('pg/a', events(100, 'T', i));
      await log.append('pg/b', events(100, 'T', i + 100));
    }
    const all = await collect(log.readAll());
    assert.deepEqual(all.map((e) => e.position), Array.from({ length: n }, (_, i) => i + 1));
    assert.equal((await collect(log.readStream('pg/a'))).length, n / 2);
    assert.deepEqual((await collect(log.readStream('pg/a', { from: 300, limit: 900 }))).map((e) => e.version), Array.from({ length: 900 }, (_, i) => 300 + i));
    assert.equal((await collect(log.readAll({ from: 1000, limit: 1500 }))).at(-1)?.position, 2499);
    // Stopping mid-read (with a read-ahead page in flight) releases the reader cleanly.
    let seen = 0;
    for await (const _ of log.readAll()) if (++seen === 300) break;
    assert.equal(seen, 300);
    // Truncated history leaves holes in global order; following skips them and goes on live.
    await log.truncateBefore('pg/a', 1_000);
    const abort = new AbortController();
    const followed: number[] = [];
    const done = (async () => {
      for await (const e of log.follow('pg/>', { signal: abort.signal })) {
        followed.push(e.position);
        if (e.stream === 'pg/c') abort.abort();
      }
    })();
    await log.append('pg/c', events(1));
    await done;
    const expected = [...all.filter((e) => e.stream === 'pg/b' || e.version >= 1_000).map((e) => e.position), n + 1];
    assert.deepEqual(followed, expected);
  });

  withLog('does not shorten a limited read when a read interceptor hides events', async (log, underlying) => {
    for (let i = 0; i < 2_600; i += 200) {
      await log.append('pg/a', events(100, 'T', i));
      await log.append('pg/b', events(100, 'T', i + 100));
    }
    const remove = underlying.addInterceptors({ read: { name: 'odd-only', onRead: (e) => (e.version % 2 === 1 ? e : undefined) } });
    try {
      const odd = await collect(log.readStream('pg/b', { limit: 700 }));
      assert.deepEqual(odd.map((e) => e.version), Array.from({ length: 650 }, (_, i) => 2 * i + 1));
      assert.equal((await collect(log.readAll({ limit: 1200 }))).length, 1200);
    } finally {
      remove();
    }
  });

  it('browses the hierarchy with paging', async (log) => {
    for (const s of ['orders/eu/o-1', 'orders/eu/o-2', 'orders/eu-west/o-1', 'orders/eu', 'orders/us/o-9', 'users/u-1']) await log.append(s, events(1));
    const root = await log.listChildren('');
    assert.deepEqual(root.entries.map((e) => [e.segment, e.isStream, e.hasChildren]), [['orders', false, true], ['users', false, true]]);
    const orders = await log.listChildren('orders');
    assert.deepEqual(orders.entries.map((e) => [e.name, e.isStream, e.hasChildren]), [
      ['orders/eu', true, true],
      ['orders/eu-west', false, true],
      ['orders/us', false, true],
    ]);
    const p1 = await log.listChildren('orders', { limit: 2 });
    assert.equal(p1.entries.length, 2);
    assert.equal(p1.next, 'eu-west');
    const p2 = await log.listChildren('orders', { limit: 2, after: p1.next! });
    assert.deepEqual(p2.entries.map((e) => e.segment), ['us']);
    assert.equal(p2.next, undefined);
    const eu = await log.listChildren('orders/eu');
    assert.deepEqual(eu.entries.map((e) => [e.segment, e.isStream, e.hasChildren]), [['o-1', true, false], ['o-2', true, false]]);
  });

  it('subscribes with catch-up then live, no gap and no duplicate', async (log) => {
    await log.append('t/a', events(5));
    await log.append('u/a', events(2));
    const got = firstValueFrom(log.subscribe('t/>', { from: 2 }).pipe(take(8), toArray()));
    await log.append('t/b', events(3));
    await log.append('u/b', events(1));
    await log.append('t/a', events(2));
    const received = await got;
    assert.deepEqual(received.map((e) => e.position), [2, 3, 4, 5, 8, 9, 10, 12]);
    assert.ok(received.every((e) => e.stream.startsWith('t/')));
  });

  it('follows from the end and sees only new events', async (log) => {
    await log.append('f/a', events(3));
    const abort = new AbortController();
    const seen: RecordedEvent[] = [];
    const done = (async () => {
      for await (const e of log.follow('>', { from: 'end', signal: abort.signal })) {
        seen.push(e);
        if (seen.length === 2) abort.abort();
      }
    })();
    await log.append('f/b', events(2));
    await done;
    assert.deepEqual(seen.map((e) => e.position), [4, 5]);
  });

  it('truncates old events, keeps versions, and reports truncated reads', async (log) => {
    await log.append('tr/a', events(10));
    await log.append('tr/b', events(2));
    const t = await log.truncateBefore('tr/a', 6);
    assert.equal(t.removed, 5);
    assert.equal(t.truncatedBefore, 6);
    await rejectsWith(() => collect(log.readStream('tr/a')), 'STRAND_STREAM_TRUNCATED');
    const rest = await collect(log.readStream('tr/a', { from: 6 }));
    assert.deepEqual(rest.map((e) => e.version), [6, 7, 8, 9, 10]);
    const skipped = await collect(log.readStream('tr/a', { ifTruncated: 'skip' }));
    assert.equal(skipped.length, 5);
    assert.equal((await log.streamInfo('tr/a'))?.truncatedBefore, 6);
    const all = await collect(log.readAll());
    assert.equal(all.length, 7);
    const r = await log.append('tr/a', events(1), { expectedVersion: 10 });
    assert.equal(r.version, 11);
    await rejectsWith(log.truncateBefore('tr/a', 50), 'STRAND_INVALID_ARGUMENT');
  });

  it('soft-deletes streams and recreates them only on purpose', async (log) => {
    await log.append('d/a', events(2));
    await log.deleteStream('d/a', { expectedVersion: 2 });
    await rejectsWith(log.append('d/a', events(1)), 'STRAND_STREAM_DELETED');
    await rejectsWith(() => collect(log.readStream('d/a')), 'STRAND_STREAM_DELETED');
    assert.equal((await log.streamInfo('d/a'))?.deleted, true);
    const r = await log.append('d/a', events(1), { recreate: true, expectedVersion: 2 });
    assert.equal(r.version, 3);
    assert.equal((await log.streamInfo('d/a'))?.deleted, false);
  });

  it('rejects bad input with typed errors and writes nothing', async (log) => {
    await rejectsWith(log.append('bad//name', events(1)), 'STRAND_INVALID_STREAM_NAME');
    await rejectsWith(log.append('a/../b', events(1)), 'STRAND_INVALID_STREAM_NAME');
    await rejectsWith(log.append('', events(1)), 'STRAND_INVALID_STREAM_NAME');
    await rejectsWith(log.append('ok', []), 'STRAND_INVALID_EVENT');
    await rejectsWith(log.append('ok', [{ type: '', data: 1 }]), 'STRAND_INVALID_EVENT');
    await rejectsWith(log.append('ok', [{ type: 'T', data: 1n }]), 'STRAND_INVALID_EVENT');
    await rejectsWith(log.append('ok', events(1), { expectedVersion: -1 }), 'STRAND_INVALID_ARGUMENT');
    await rejectsWith(log.append('ok', [{ type: 'T', data: 'x'.repeat(2 * 1024 * 1024) }]), 'STRAND_EVENT_TOO_LARGE');
    await rejectsWith(() => log.readAll({ pattern: 'a/>/b' }), 'STRAND_INVALID_PATTERN');
    await rejectsWith(() => log.subscribe('', {}), 'STRAND_INVALID_PATTERN');
    assert.equal(await log.headPosition(), 0);
    assert.deepEqual(await collect(log.readAll()), []);
  });

  if (supports.reopen) {
    it('keeps everything across close and reopen', async (log, h) => {
      await log.append('p/a', events(3));
      await log.close();
      const again = await h.reopen!();
      try {
        assert.equal(await again.headPosition(), 3);
        const r = await again.append('p/a', events(1), { expectedVersion: 3 });
        assert.equal(r.position, 4);
        assert.equal((await collect(again.readStream('p/a'))).length, 4);
      } finally {
        await again.close();
      }
    });
  }

  it('fails every operation once closed', async (log) => {
    await log.close();
    await rejectsWith(log.append('x', events(1)), 'STRAND_LOG_CLOSED');
    await rejectsWith(() => log.readStream('x'), 'STRAND_LOG_CLOSED');
    await rejectsWith(() => log.readAll(), 'STRAND_LOG_CLOSED');
    await rejectsWith(log.streamInfo('x'), 'STRAND_LOG_CLOSED');
    await rejectsWith(log.listChildren(''), 'STRAND_LOG_CLOSED');
    await rejectsWith(log.truncateBefore('x', 1), 'STRAND_LOG_CLOSED');
  });

  withLog('verifies a consistent store and counts streams', async (log, underlying) => {
    await log.append('v/a', events(5));
    await log.appendMulti([
      { stream: 'v/b', events: events(2) },
      { stream: 'w/c', events: events(1) },
    ]);
    await log.truncateBefore('v/a', 3);
    await log.deleteStream('w/c');
    const report = await underlying.verify();
    assert.deepEqual(report.problems, []);
    assert.equal(report.events, 6);
    assert.equal(report.streams, 3);
    assert.equal(report.truncated, 2);
    assert.equal(report.lastPosition, 8);
    assert.equal(await underlying.countStreams(), 3);
    assert.equal(await underlying.countStreams('v'), 2);
  });

  withLog('runs commit hooks atomically with the append', async (log, underlying) => {
    const counts = underlying.sublevel('counts');
    underlying.addCommitHook({
      name: 'counter',
      async onCommit(evs, tx) {
        for (const e of evs) {
          if (e.type === 'Boom') throw new Error('hook failed');
          const c = ((await tx.get(counts, e.stream)) as { n: number } | undefined) ?? { n: 0 };
          tx.put(counts, e.stream, { n: c.n + 1 });
        }
      },
    });
    await Promise.all([log.append('h/a', events(2)), log.append('h/a', events(1)), log.append('h/b', events(1))]);
    await assert.rejects(log.append('h/a', [{ type: 'Boom', data: null }]));
    assert.deepEqual(await counts.get('h/a'), { n: 3 });
    assert.deepEqual(await counts.get('h/b'), { n: 1 });
    assert.equal((await log.streamInfo('h/a'))?.version, 3);
  });
}
