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
