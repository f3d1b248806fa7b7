import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AppendResult, EventLog, type ExpectedVersion, openLog, type RecordedEvent } from '@strand/core';
import { S3Level } from '@strand/store-s3';
import { InMemoryObjectStore } from '@strand/store-s3/testing';
import { collect, errorCode } from '@strand/core/testing';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

// Model-based test of the event log on a real LevelDB (and on the pipelined backends): random appends (single and multi-stream,
// right and wrong expected versions, retries), reads, truncations and deletes, each compared with
// a plain in-memory model. fast-check prints the seed and the shrunk command list on failure.

interface ModelEvent {
  id: string;
  data: number;
  position: number;
}
interface ModelStream {
  events: ModelEvent[]; // index i holds version i + 1; truncated ones stay here, flagged by floor
  floor: number;
  deleted: boolean;
}
interface Model {
  streams: Map<string, ModelStream>;
  position: number;
  nextId: number;
  /** The last successful append, which a Retry command re-sends verbatim. */
  last: { stream: string; events: Array<{ type: string; id: string; data: number }>; expected: ExpectedVersion; result: AppendResult } | undefined;
}
interface Real {
  log: EventLog;
}

const STREAMS = ['m/a', 'm/b', 'm/c/x', 'm/c/y', 'n/a'];
const stream = fc.constantFrom(...STREAMS);
type ExpectKind = 'any' | 'no_stream' | 'stream_exists' | 'right' | 'wrong';
const expectKind = fc.constantFrom<ExpectKind>('any', 'no_stream', 'stream_exists', 'right', 'right', 'wrong');

function expectedFor(kind: ExpectKind, s: ModelStream | undefined): ExpectedVersion {
  const v = s?.events.length ?? 0;
  if (kind === 'right') return v;
  if (kind === 'wrong') return v + 1;
  return kind;
}

function check(expected: ExpectedVersion, s: ModelStream | undefined): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return s === undefined;
  if (expected === 'stream_exists') return s !== undefined;
  return (s?.events.length ?? 0) === expected;
}

/** What the model says an append part does: an error code, or ok. */
function outcome(s: ModelStream | undefined, expected: ExpectedVersion, recreate: boolean): 'ok' | string {
  if (s?.deleted && !recreate) return 'STRAND_STREAM_DELETED';
  return check(expected, s) ? 'ok' : 'STRAND_WRONG_EXPECTED_VERSION';
}

function apply(m: Model, name: string, data: number[], ids: string[]): ModelEvent[] {
  const s = m.streams.get(name) ?? { events: [], floor: 1, deleted: false };
  m.streams.set(name, s);
  s.deleted = false;
  const added = data.map((d, i) => ({ id: ids[i]!, data: d, position: ++m.position }));
  s.events.push(...added);
  return added;
}



class Append implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly stream: string,
    readonly count: number,
    readonly kind: ExpectKind,
    readonly recreate: boolean,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const s = m.streams.get(this.stream);
    const expected = expectedFor(this.kind, s);
    const events = Array.from({ length: this.count }, (_, i) => ({ type: 'T', id: `e${m.nextId + i}`, data: m.nextId + i }));
    m.nextId += this.count;
    const want = outcome(s, expected, this.recreate);
    let result: AppendResult | undefined;
    const got = await errorCode((async () => (result = await r.log.append(this.stream, events, { expectedVersion: expected, recreate: this.recreate })))());
    expect(got).toBe(want);
    m.last = undefined;
    if (want !== 'ok') return;
    const added = apply(
      m,
      this.stream,
      events.map((e) => e.data),
      events.map((e) => e.id),
    );
    expect(result!.version).toBe(m.streams.get(this.stream)!.events.length);
    expect(result!.position).toBe(added.at(-1)!.position);
    expect(result!.idempotent).toBe(false);
    m.last = { stream: this.stream, events, expected, result: result! };
  }
  toString = () => `Append(${this.stream}, ${this.count}, ${this.kind}${this.recreate ? ', recreate' : ''})`;
}

class Retry implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => m.last !== undefined;
  async run(m: Model, r: Real): Promise<void> {
    const last = m.last!;
    const again = await r.log.append(last.stream, last.events, { expectedVersion: last.expected });
    expect(again.idempotent).toBe(true);
    expect([again.version, again.position, again.firstPosition]).toEqual([last.result.version, last.result.position, last.result.firstPosition]);
    expect(r.log.position).toBe(m.position);
  }
  toString = () => 'Retry';
}

class AppendMulti implements fc.AsyncCommand<Model, Real> {
  constructor(readonly parts: Array<{ stream: string; count: number; kind: ExpectKind }>) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const parts = this.parts.map((p) => {
      const events = Array.from({ length: p.count }, (_, i) => ({ type: 'T', id: `e${m.nextId + i}`, data: m.nextId + i }));
      m.nextId += p.count;
      return { stream: p.stream, events, expectedVersion: expectedFor(p.kind, m.streams.get(p.stream)) };
    });
    const outcomes = parts.map((p) => outcome(m.streams.get(p.stream), p.expectedVersion, false));
    const want = outcomes.find((o) => o !== 'ok') ?? 'ok';
    const before = r.log.position;
    const got = await errorCode(r.log.appendMulti(parts));
    expect(got).toBe(want);
    m.last = undefined;
    if (want !== 'ok') {
      expect(r.log.position).toBe(before);
      return;
    }
    for (const p of parts) {
      apply(
        m,
        p.stream,
        p.events.map((e) => e.data),
        p.events.map((e) => e.id),
      );
    }
  }
  toString = () => `AppendMulti(${this.parts.map((p) => `${p.stream}:${p.count}:${p.kind}`).join(', ')})`;
}

class ReadStream implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly stream: string,
    readonly backwards: boolean,
    readonly from: number | undefined,
    readonly limit: number | undefined,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const s = m.streams.get(this.stream);
    const options = { direction: this.backwards ? ('backwards' as const) : ('forwards' as const), from: this.from, limit: this.limit, ifTruncated: 'skip' as const };
    if (s?.deleted) {
      expect(await errorCode(collect(r.log.readStream(this.stream, options)))).toBe('STRAND_STREAM_DELETED');
      return;
    }
    const got = (await collect(r.log.readStream(this.stream, options))).map((e) => [e.version, e.id, e.position]);
    const all = (s?.events ?? []).map((e, i) => [i + 1, e.id, e.position] as [number, string, number]).filter(([v]) => v >= (s?.floor ?? 1));
    let want: typeof all;
    if (this.backwards) {
      const hi = Math.min(this.from ?? Number.POSITIVE_INFINITY, all.length === 0 ? 0 : all.at(-1)![0]);
      want = all.filter(([v]) => v <= hi).reverse();
    } else {
      want = all.filter(([v]) => v >= (this.from ?? 1));
    }
    if (this.limit !== undefined) want = want.slice(0, this.limit);
    expect(got).toEqual(want);
  }
  toString = () => `ReadStream(${this.stream}, ${this.backwards ? 'back' : 'fwd'}, from ${this.from}, limit ${this.limit})`;
}

const PATTERNS = ['>', 'm/>', 'm/*', 'm/c/*', '*/a', 'n/>', 'm/c/x'];
class ReadAll implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pattern: string | undefined,
    readonly from: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const matches = (name: string): boolean => {
      if (this.pattern === undefined || this.pattern === '>') return true;
      const p = this.pattern.split('/');
      const n = name.split('/');
      if (p.at(-1) === '>') return n.length >= p.length && p.slice(0, -1).every((seg, i) => seg === '*' || seg === n[i]);
      return n.length === p.length && p.every((seg, i) => seg === '*' || seg === n[i]);
    };
    const want: Array<[number, string, string]> = [];
    for (const [name, s] of m.streams) {
      if (!matches(name)) continue;
      s.events.forEach((e, i) => {
        if (i + 1 >= s.floor && e.position >= this.from) want.push([e.position, name, e.id]);
      });
    }
    want.sort((a, b) => a[0] - b[0]);
    const got = (await collect(r.log.readAll({ from: this.from, pattern: this.pattern }))).map((e: RecordedEvent) => [e.position, e.stream, e.id]);
    expect(got).toEqual(want);
  }
  toString = () => `ReadAll(${this.pattern ?? 'all'}, from ${this.from})`;
}

class Truncate implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly stream: string,
    readonly back: number,
  ) {}
  check = (m: Readonly<Model>) => m.streams.has(this.stream);
  async run(m: Model, r: Real): Promise<void> {
    const s = m.streams.get(this.stream)!;
    const before = Math.max(1, s.events.length + 1 - this.back);
    const t = await r.log.truncateBefore(this.stream, before);
    const floor = Math.max(s.floor, before);
    expect(t.truncatedBefore).toBe(floor);
    expect(t.removed).toBe(Math.max(0, floor - s.floor));
    s.floor = floor;
    m.last = undefined;
  }
  toString = () => `Truncate(${this.stream}, keep ${this.back})`;
}

class Delete implements fc.AsyncCommand<Model, Real> {
  constructor(readonly stream: string) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const s = m.streams.get(this.stream);
    const want = s === undefined ? 'STRAND_WRONG_EXPECTED_VERSION' : s.deleted ? 'STRAND_STREAM_DELETED' : 'ok';
    expect(await errorCode(r.log.deleteStream(this.stream))).toBe(want);
    if (want === 'ok') s!.deleted = true;
    m.last = undefined;
  }
  toString = () => `Delete(${this.stream})`;
}

const commands = [
  fc.tuple(stream, fc.integer({ min: 1, max: 4 }), expectKind, fc.boolean()).map(([s, n, k, rc]) => new Append(s, n, k, rc && n === 1)),
  fc.constant(new Retry()),
  fc
    .uniqueArray(fc.record({ stream, count: fc.integer({ min: 1, max: 3 }), kind: expectKind }), { minLength: 2, maxLength: 3, selector: (p) => p.stream })
    .map((parts) => new AppendMulti(parts)),
  fc
    .tuple(stream, fc.boolean(), fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }), fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }))
    .map(([s, b, f, l]) => new ReadStream(s, b, f, l)),
  fc.tuple(fc.option(fc.constantFrom(...PATTERNS), { nil: undefined }), fc.integer({ min: 0, max: 30 })).map(([p, f]) => new ReadAll(p, f)),
  fc.tuple(stream, fc.integer({ min: 0, max: 4 })).map(([s, b]) => new Truncate(s, b)),
  stream.map((s) => new Delete(s)),
];

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** Each backend the log runs on, with the commit pipeline where the store allows it. */
// Small groups (2 appends) so that concurrent appends really fill the pipeline.
const backends: Array<{ name: string; runs: number; open: () => Promise<{ log: EventLog; cleanup: () => Promise<void> }> }> = [
  {
    name: 'real LevelDB',
    runs: 150,
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'strand-model-'));
      dirs.push(dir);
      const log = await openLog({ path: dir, durability: 'buffered' });
      return { log, cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  },
  { name: 'memory-level, 4 groups in flight', runs: 60, open: async () => ({ log: await openLog({ memory: true, pipelineDepth: 4, maxGroupSize: 2 }), cleanup: async () => {} }) },
  {
    name: 'S3Level on an in-memory object store, 4 groups in flight',
    runs: 60,
    open: async () => ({
      log: await EventLog.open({ store: new S3Level({ store: new InMemoryObjectStore(), flushIntervalMs: 0 }), ownsStore: true, pipelineDepth: 4, maxGroupSize: 2 }),
      cleanup: async () => {},
    }),
  },
];

describe.each(backends)('event log against a model (fast-check, $name)', ({ open, runs }) => {
  it('agrees with the model on random command sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60 }), async (cmds) => {
        const { log, cleanup } = await open();
        try {
          await fc.asyncModelRun(() => ({ model: { streams: new Map(), position: 0, nextId: 0, last: undefined }, real: { log } }), cmds);
        } finally {
          await log.close();
          await cleanup();
        }
      }),
      { numRuns: runs },
    );
  });

  it('assigns gapless positions and contiguous versions under concurrent appends, as some sequential order would', async () => {
    // Each append names a stream, a count, and an expected version: 'any' or a guess that is
    // sometimes right. Accepted appends must form a serial history in position order.
    // Some appends are submitted a turn of the event loop later, while earlier groups are written.
    const append = fc.tuple(stream, fc.integer({ min: 1, max: 3 }), fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }), fc.boolean());
    await fc.assert(
      fc.asyncProperty(fc.array(append, { minLength: 1, maxLength: 40 }), async (appends) => {
        const { log, cleanup } = await open();
        try {
          const submitted: Promise<AppendResult>[] = [];
          for (const [i, [s, n, expected, later]] of appends.entries()) {
            if (later) await new Promise((resolve) => setImmediate(resolve));
            const p = log.append(s, Array.from({ length: n }, (_, k) => ({ type: 'T', data: i * 10 + k })), expected === undefined ? {} : { expectedVersion: expected });
            // Settled below; until then a rejection must not count as unhandled.
            p.catch(() => {});
            submitted.push(p);
          }
          const settled = await Promise.allSettled(submitted);
          const accepted = settled.flatMap((r, i) => (r.status === 'fulfilled' ? [{ r: r.value, i }] : []));
          for (const r of settled) if (r.status === 'rejected') expect(await errorCode(Promise.reject(r.reason))).toBe('STRAND_WRONG_EXPECTED_VERSION');
          const total = accepted.reduce((a, { i }) => a + appends[i]![1], 0);
          expect(log.position).toBe(total);
          const all = await collect(log.readAll());
          expect(all.map((e) => e.position)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
          // Replaying the accepted appends sequentially in the order of their positions gives the
          // same versions, and each expected version held at its turn.
          accepted.sort((a, b) => a.r.firstPosition - b.r.firstPosition);
          const versions = new Map<string, number>();
          let pos = 0;
          for (const { r, i } of accepted) {
            const [s, n, expected] = appends[i]!;
            const before = versions.get(s) ?? 0;
            if (expected !== undefined) expect(expected).toBe(before);
            versions.set(s, before + n);
            pos += n;
            expect([r.stream, r.version, r.position, r.firstPosition]).toEqual([s, before + n, pos, pos - n + 1]);
          }
          for (const [s, v] of versions) expect((await log.streamInfo(s))?.version).toBe(v);
        } finally {
          await log.close();
          await cleanup();
        }
      }),
      { numRuns: 50 },
    );
  });
});
