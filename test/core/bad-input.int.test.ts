import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventLog, isValidStreamName, openLog, StrandError } from '@strand/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Fuzzed bad input through the public API: every failure is a StrandError with a stable code,
// and a failed call writes nothing.

let log: EventLog;
beforeAll(async () => {
  log = await openLog({ memory: true });
});
afterAll(() => log.close());

const cyclic = (): unknown => {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
};
const weird = fc.oneof(
  fc.anything(),
  fc.constantFrom<unknown>(Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY, 2 ** 60, '', ' ', '..', '/', 'a//b', 'a/./b', 'a/../b', '\u0000', 'ä/ö', 'x'.repeat(600), 10n, Symbol('s'), () => 1, cyclic(), null, undefined, [], {}),
);
const name = fc.oneof(weird, fc.string(), fc.stringMatching(/^[a-z]{1,3}(\/[a-z*>.]{0,3}){0,4}$/));
const event = fc.oneof(weird, fc.record({ type: weird, data: weird }, { requiredKeys: [] }), fc.record({ type: fc.string(), data: fc.anything(), id: weird, metadata: weird }, { requiredKeys: ['type', 'data'] }));
const events = fc.oneof(weird, fc.array(event, { maxLength: 3 }));
const options = fc.oneof(weird, fc.record({ expectedVersion: weird, recreate: weird, from: weird, limit: weird, direction: weird, pattern: weird }, { requiredKeys: [] }));

/** Runs a call; returns 'ok' or the StrandError code; anything else fails the test. */
async function attempt(fn: () => unknown): Promise<string> {
  try {
    const r = fn();
    if (r !== null && typeof r === 'object' && Symbol.asyncIterator in r) {
      for await (const _ of r as AsyncIterable<unknown>) {
        // drain
      }
    } else await r;
    return 'ok';
  } catch (error) {
    if (!(error instanceof StrandError)) throw new Error(`not a StrandError: ${String(error)}`, { cause: error });
    expect(error.code).toMatch(/^STRAND_[A-Z_]+$/);
    expect(error.message.length).toBeGreaterThan(20);
    return error.code;
  }
}

describe('bad input through the public API', () => {
  it('append: typed errors only, nothing written on failure', async () => {
    await fc.assert(
      fc.asyncProperty(name, events, options, async (s, evs, opts) => {
        const before = log.position;
        const code = await attempt(() => log.append(s as string, evs as never, opts as never));
        if (code !== 'ok') expect(log.position).toBe(before);
        else expect(isValidStreamName(s as string)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('appendMulti: typed errors only, all or nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(weird, fc.array(fc.record({ stream: name, events, expectedVersion: weird }, { requiredKeys: [] }), { maxLength: 3 })), async (parts) => {
        const before = log.position;
        const code = await attempt(() => log.appendMulti(parts as never));
        if (code !== 'ok') expect(log.position).toBe(before);
      }),
      { numRuns: 300 },
    );
  });

  it('reads, subscriptions, hierarchy and lifecycle calls: typed errors only', async () => {
    await log.append('fuzz/a', [{ type: 'T', data: 1 }]);
    await fc.assert(
      fc.asyncProperty(name, options, weird, async (s, opts, n) => {
        const before = log.position;
        await attempt(() => log.readStream(s as string, opts as never));
        await attempt(() => log.readAll(opts as never));
        await attempt(() => log.listChildren(s as string, opts as never));
        await attempt(() => log.streamInfo(s as string));
        await attempt(() => log.truncateBefore(s as string, n as number));
        await attempt(() => {
          const o = log.subscribe(s as string, { ...(typeof opts === 'object' && opts !== null ? opts : {}), from: 'end' } as never);
          o.subscribe().unsubscribe();
        });
        expect(log.position).toBe(before);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses what it must, with the documented codes', async () => {
    expect(await attempt(() => log.append('a//b', [{ type: 'T', data: 1 }]))).toBe('STRAND_INVALID_STREAM_NAME');
    expect(await attempt(() => log.append('a/b', [{ type: 'T', data: 10n }]))).toBe('STRAND_INVALID_EVENT');
    expect(await attempt(() => log.append('a/b', [{ type: 'T', data: cyclic() }]))).toBe('STRAND_INVALID_EVENT');
    expect(await attempt(() => log.append('a/b', [{ type: 'T', data: 'x'.repeat(2 * 1024 * 1024) }]))).toBe('STRAND_EVENT_TOO_LARGE');
    expect(await attempt(() => log.append('a/b', [{ type: 'T', data: 1 }], { expectedVersion: 1.5 as never }))).toBe('STRAND_INVALID_ARGUMENT');
    expect(await attempt(() => log.readAll({ pattern: 'a/>/b' }))).toBe('STRAND_INVALID_PATTERN');
    expect(await attempt(() => log.append('a/b', []))).toBe('STRAND_INVALID_EVENT');
    // LevelDB cannot promise ordered batches, so a commit pipeline is refused there, and bad depths everywhere.
    expect(await attempt(() => openLog({ path: join(tmpdir(), 'strand-never-created'), pipelineDepth: 4 }))).toBe('STRAND_INVALID_ARGUMENT');
    expect(await attempt(() => openLog({ memory: true, pipelineDepth: 0 }))).toBe('STRAND_INVALID_ARGUMENT');
  });
});

// Issue 21, items 14 and 16-20: input that used to get through. Each is a typed error with
// nothing written, read once at the boundary.
describe('bad input that used to get through (issue 21)', () => {
  async function refused(fn: () => Promise<unknown>): Promise<string> {
    const before = log.position;
    const code = await attempt(fn);
    expect(log.position, 'nothing written').toBe(before);
    return code;
  }
  const sparse = <T>(length: number, at: Record<number, T>): T[] => {
    const a = new Array<T>(length);
    for (const [k, v] of Object.entries(at)) a[Number(k)] = v;
    return a;
  };

  it('item 14: sparse event arrays are refused, not written with a hole in the versions', async () => {
    expect(await refused(() => log.append('bad14/a', sparse(2, { 1: { type: 'Placed', data: {} } })))).toBe('STRAND_INVALID_EVENT');
    expect(await refused(() => log.append('bad14/a', new Array(1)))).toBe('STRAND_INVALID_EVENT');
    expect(await refused(() => log.appendMulti([{ stream: 'bad14/b', events: sparse(3, { 0: { type: 'T', data: 1 }, 2: { type: 'T', data: 2 } }) }]))).toBe('STRAND_INVALID_EVENT');
    expect(await refused(() => log.appendMulti(sparse(2, { 1: { stream: 'bad14/c', events: [{ type: 'T', data: 1 }] } })))).toBe('STRAND_INVALID_ARGUMENT');
    expect(await log.streamInfo('bad14/a')).toBeUndefined();
  });

  it('item 16: lone surrogates in a type or id are refused (they would be stored mangled)', async () => {
    expect(await refused(() => log.append('bad16/a', [{ type: 'T\uD800', data: 1 }]))).toBe('STRAND_INVALID_EVENT');
    expect(await refused(() => log.append('bad16/a', [{ type: 'T', id: 'i\uD800', data: 1 }]))).toBe('STRAND_INVALID_EVENT');
    expect(await refused(() => log.append('bad16/a', [{ type: 'T', id: 'i\uDC00x', data: 1 }]))).toBe('STRAND_INVALID_EVENT');
    expect(await refused(() => log.append('bad16/a', [{ type: 'T', data: 1, metadata: { who: '\uD800' } }]))).toBe('STRAND_INVALID_EVENT');
    // Well-formed pairs are fine and read back as written, so the idempotent retry works.
    const first = await log.append('bad16/b', [{ type: 'T\uD83D\uDE00', id: 'i\uD83D\uDE00', data: 1 }], { expectedVersion: 'no_stream' });
    const again = await log.append('bad16/b', [{ type: 'T\uD83D\uDE00', id: 'i\uD83D\uDE00', data: 1 }], { expectedVersion: 'no_stream' });
    expect(again.idempotent).toBe(true);
    expect(again.position).toBe(first.position);
  });

  it('item 17: metadata that cannot be encoded is a typed error, not a raw RangeError', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const throwing = Object.defineProperty({}, 'x', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
    for (const metadata of [circular, { n: 10n }, { s: Symbol('s') }, throwing, { f: () => 1 }, { d: new Date(0) }, { n: Number.NaN }, [1, 2]]) {
      expect(await refused(() => log.append('bad17/a', [{ type: 'T', data: 1, metadata: metadata as never }]))).toBe('STRAND_INVALID_EVENT');
    }
  });

  it('item 18: data the JSON codec cannot read back equal is refused, naming the path', async () => {
    const cases: unknown[] = [Number.NaN, { x: Number.POSITIVE_INFINITY }, { at: new Date(0) }, { nested: { f: () => 1 } }, { s: Symbol('s') }, [1, undefined], sparse(2, { 0: 1 }), new Map([[1, 2]]), { big: 1n }];
    for (const data of cases) {
      expect(await refused(() => log.append('bad18/a', [{ type: 'T', data }]))).toBe('STRAND_INVALID_EVENT');
    }
    const error = await log.append('bad18/a', [{ type: 'T', data: { order: { lines: [{ at: new Date(0) }] } } }]).catch((e: unknown) => e as Error);
    expect((error as Error).message).toMatch(/data\.order\.lines\[0\]\.at is a Date/);
    // What JSON keeps is stored as given; properties whose value is undefined are left out, as documented.
    const ok = await log.append('bad18/b', [{ type: 'T', data: { a: 1, b: 'x', c: [null, true], d: { e: -1.5 }, u: undefined } }]);
    const [read] = await collect(log.readStream('bad18/b'));
    expect(read?.data).toEqual({ a: 1, b: 'x', c: [null, true], d: { e: -1.5 } });
    expect(ok.events[0]?.data).toEqual(read?.data);
  });

  it('item 19: expectedVersion null is refused, not taken as any', async () => {
    await log.append('bad19/a', [{ type: 'T', data: 1 }]);
    expect(await refused(() => log.append('bad19/a', [{ type: 'T', data: 1 }], { expectedVersion: null as never }))).toBe('STRAND_INVALID_ARGUMENT');
    expect(await refused(() => log.appendMulti([{ stream: 'bad19/a', events: [{ type: 'T', data: 1 }], expectedVersion: null as never }]))).toBe('STRAND_INVALID_ARGUMENT');
  });

  it('item 20: input is read once; a getter that answers differently later cannot redirect the write', async () => {
    let reads = 0;
    const part = {
      get stream() {
        return reads++ === 0 ? 'bad20/checked' : 'bad20/elsewhere';
      },
      events: [{ type: 'T', data: 1 }],
    };
    const r = await log.appendMulti([part]);
    expect(reads).toBe(1);
    expect(r.results[0]?.stream).toBe('bad20/checked');
    expect(await log.streamInfo('bad20/elsewhere')).toBeUndefined();
    let typeReads = 0;
    const event = {
      get type() {
        return typeReads++ === 0 ? 'Good' : '';
      },
      data: { n: 1 },
    };
    const one = await log.append('bad20/e', [event]);
    expect(typeReads).toBe(1);
    expect(one.events[0]?.type).toBe('Good');
    // The data stored and the data handed back are one copy, taken once.
    let dataReads = 0;
    const data = {
      get n() {
        return ++dataReads;
      },
    };
    const d = await log.append('bad20/d', [{ type: 'T', data }]);
    const [stored] = await collect(log.readStream('bad20/d'));
    expect(dataReads).toBe(1);
    expect(stored?.data).toEqual({ n: 1 });
    expect(d.events[0]?.data).toEqual({ n: 1 });
  });
});

describe('opening a directory twice (issue 21 item 13)', () => {
  it('STRAND_LOG_LOCKED says "in this process" when this process holds the directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strand-lock-'));
    try {
      const first = await openLog({ path: dir });
      const error = await openLog({ path: dir }).catch((e: unknown) => e as StrandError);
      expect(error).toBeInstanceOf(StrandError);
      expect((error as StrandError).code).toBe('STRAND_LOG_LOCKED');
      expect((error as StrandError).message).toMatch(/already open in this process/);
      expect((error as StrandError).message).not.toMatch(/another process/);
      await first.close();
      const again = await openLog({ path: dir });
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
