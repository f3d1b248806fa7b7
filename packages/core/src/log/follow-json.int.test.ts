import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryLevel } from 'memory-level';
import { describe, it } from 'vitest';
import { msgpackCodec } from '../codec.js';
import { EventLog } from '../log.js';
import { openLog } from '../open.js';
import { eventBytes, jsonTextEventBytes } from '../tenancy/bytes.js';
import type { EventInput, JsonTextEvent, RecordedEvent } from '../types.js';

/** The first `n` events of a follow, then stops it. */
async function take<T>(it: AsyncIterable<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  if (n === 0) return out;
  for await (const e of it) {
    out.push(e);
    if (out.length === n) break;
  }
  return out;
}

/** What `followJson` must give for an event `follow` gives: the same fields, the data as JSON text. */
const asJsonText = (e: RecordedEvent): JsonTextEvent => ({
  stream: e.stream,
  version: e.version,
  position: e.position,
  type: e.type,
  id: e.id,
  timestamp: e.timestamp,
  dataJson: e.data === undefined ? '' : JSON.stringify(e.data),
  metadata: e.metadata,
  schemaVersion: e.schemaVersion,
});

const plain = <T extends object>(e: T): T => ({ ...e });

// JSON payloads as an appender gives them (no -0: JSON text cannot tell it from 0).
const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const streams = fc.constantFrom('a/x', 'a/y', 'b/x', 'ünï/cödé');
const input: fc.Arbitrary<{ stream: string; event: EventInput }> = fc.record({
  stream: streams,
  event: fc.record(
    {
      type: fc.constantFrom('T', 'Ü'),
      data: json,
      metadata: fc.dictionary(fc.constantFrom('user', 'k'), fc.oneof(fc.string(), fc.integer())),
    },
    { requiredKeys: ['type', 'data'] },
  ),
});

describe('EventLog.followJson (docs/design/0010-cpu-per-event.md, "Payload as JSON text")', () => {
  it('gives what follow gives, the payload as its stored JSON text, from the store and from the ring (json codec)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(input, { minLength: 1, maxLength: 40 }), fc.constantFrom('>', 'a/>', '*/x'), fc.integer({ min: 2, max: 64 }), async (rows, pattern, ring) => {
        // A ring smaller than the log: catch-up reads the store, then switches to the ring.
        const log = await openLog({ memory: true, liveBufferSize: ring });
        try {
          for (const { stream, event } of rows) await log.append(stream, [event]);
          const expected = (await take(log.follow(pattern, { from: 1 }), countMatching(rows, pattern))).map(asJsonText);
          const got = (await take(log.followJson(pattern, { from: 1 }), expected.length)).map(plain);
          assert.deepEqual(got, expected);
          for (const e of got) assert.equal(jsonTextEventBytes(e), eventBytes({ data: JSON.parse(e.dataJson), metadata: e.metadata }));
        } finally {
          await log.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('delivers live events as they commit, shared by every follower, with no gap at the switch', async () => {
    const log = await openLog({ memory: true, liveBufferSize: 4 });
    try {
      for (let i = 0; i < 10; i++) await log.append('s/old', [{ type: 'T', data: { i } }]);
      const followers = [log.followJson('s/>', { from: 1 }), log.followJson('s/>', { from: 1 })].map((f) => take(f, 20));
      for (let i = 10; i < 20; i++) await log.append('s/new', [{ type: 'T', data: { i } }]);
      const [a, b] = await Promise.all(followers);
      assert.deepEqual(a!.map((e) => e.dataJson), Array.from({ length: 20 }, (_, i) => `{"i":${i}}`));
      assert.deepEqual(a!.map((e) => e.position), Array.from({ length: 20 }, (_, i) => i + 1));
      // A live event is built once from the ring and shared (frozen), as follow's are.
      assert.equal(a![19], b![19]);
      assert.ok(Object.isFrozen(a![19]));
    } finally {
      await log.close();
    }
  });

  it('stringifies the decoded data for other codecs', async () => {
    const log = await EventLog.open({ store: new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: 'view', valueEncoding: 'view' }), codec: msgpackCodec });
    try {
      await log.append('m/1', [{ type: 'T', data: { n: 1, s: 'ü' }, metadata: { user: 'ann' } }]);
      const [e] = await take(log.followJson('>', { from: 1 }), 1);
      assert.deepEqual(plain(e!), asJsonText((await take(log.follow('>', { from: 1 }), 1))[0]!));
      assert.equal(e!.dataJson, '{"n":1,"s":"ü"}');
    } finally {
      await log.close();
    }
  });

  it('runs read interceptors: the JSON text is of the intercepted data, and dropped events are not delivered', async () => {
    const log = await openLog({ memory: true, liveBufferSize: 2 });
    log.addInterceptors({
      read: { name: 'redact', onRead: (e) => (e.type === 'Secret' ? undefined : { ...e, data: { seen: e.data } }) },
    });
    try {
      await log.append('i/a', [{ type: 'T', data: 1 }, { type: 'Secret', data: 2 }, { type: 'T', data: 3 }]);
      const stored = await take(log.followJson('>', { from: 1 }), 2);
      assert.deepEqual(stored.map((e) => [e.position, e.dataJson]), [[1, '{"seen":1}'], [3, '{"seen":3}']]);
      const live = take(log.followJson('>', { from: 'end' }), 1);
      await log.append('i/a', [{ type: 'T', data: 4 }]);
      assert.deepEqual((await live).map((e) => e.dataJson), ['{"seen":4}']);
    } finally {
      await log.close();
    }
  });
});

function countMatching(rows: readonly { stream: string }[], pattern: string): number {
  const re = pattern === '>' ? /.*/ : pattern === 'a/>' ? /^a\// : /^[^/]+\/x$/;
  return rows.filter((r) => re.test(r.stream)).length;
}
