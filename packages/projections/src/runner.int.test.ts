import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventLog, isStrandError, openLog, type RecordedEvent } from '@strand/core';
import fc from 'fast-check';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendAndConfirm } from './confirm.js';
import { DynamicSubscription } from './dynamic.js';
import { attachInline } from './inline.js';
import { defineProjection } from './projection.js';
import { ProjectionRunner } from './runner.js';

let dir: string;
let log: EventLog;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strand-proj-'));
  log = await openLog({ path: dir });
});
afterEach(async () => {
  await log.close();
  await rm(dir, { recursive: true, force: true });
});

const counter = (name = 'counts', patterns = ['acc/>']) =>
  defineProjection({
    name,
    patterns,
    handlers: {
      '*': (e, tx) => tx.update<{ n: number; last: number }>('streams', e.stream, (d) => {
        if (d && e.version !== d.last + 1) throw new Error(`out of order on ${e.stream}: ${d.last} then ${e.version}`);
        return { n: (d?.n ?? 0) + 1, last: e.version };
      }),
    },
  });

const gate = () => {
  let open!: () => void;
  const p = new Promise<void>((resolve) => (open = resolve));
  return { p, open };
};

describe('ProjectionRunner on LevelDB', () => {
  it('read-your-writes errors say the runner was never started, and that the events are committed (issue 21 item 10)', async () => {
    const runner = new ProjectionRunner(log, counter());
    let error: unknown;
    try {
      await appendAndConfirm(log, [runner], 'acc/ryw', [{ type: 'T', data: 1 }]);
    } catch (e) {
      error = e;
    }
    expect(isStrandError(error, 'STRAND_PROJECTION_STOPPED')).toBe(true);
    const e = error as Error & { details: Record<string, unknown> };
    expect(e.message).toMatch(/never started/);
    expect(e.message).not.toMatch(/was stopped/);
    expect(e.message).toMatch(/committed/);
    expect(e.details).toMatchObject({ reason: 'not-started', committed: true });
    expect(log.position).toBe(1);
    await runner.start();
    await runner.stop();
    const stopped = await runner.waitFor(5, { timeoutMs: 10 }).catch((x: unknown) => x as Error);
    expect((stopped as Error).message).toMatch(/was stopped while you waited.*committed/);
    // A timeout says so too.
    const late = new ProjectionRunner(log, counter('late'));
    await late.start();
    const timeout = await late.waitFor(1_000, { timeoutMs: 5 }).catch((x: unknown) => x as Error & { details: Record<string, unknown> });
    expect(isStrandError(timeout, 'STRAND_PROJECTION_TIMEOUT')).toBe(true);
    expect((timeout as { details: Record<string, unknown> }).details.committed).toBe(true);
    await late.stop();
  });

  it('applies events once, in order per stream, and supports read-your-writes', async () => {
    const runner = new ProjectionRunner(log, counter(), { concurrency: 4 });
    await runner.start();
    await log.append('other/x', [{ type: 'T', data: 0 }]);
    const appends = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(`acc/${i % 5}`, [{ type: 'T', data: i }, { type: 'T', data: i }])));
    const last = Math.max(...appends.map((a) => a.position));
    await runner.waitFor(last);
    for (let s = 0; s < 5; s++) expect(await runner.view().get('streams', `acc/${s}`)).toEqual({ n: 20, last: 20 });
    expect(await runner.view().get('streams', 'other/x')).toBeUndefined();
    const st = await runner.status();
    expect([st.position, st.head, st.lagEvents]).toEqual([log.position, log.position, 0]);
    const r = await appendAndConfirm(log, [runner], 'acc/0', [{ type: 'T', data: 1 }]);
    expect(((await runner.view().get('streams', 'acc/0')) as { n: number }).n).toBe(21);
    expect(runner.position).toBeGreaterThanOrEqual(r.position);
    await runner.stop();
  });

  it('resumes from its checkpoint after a restart without applying anything twice (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.boolean()), { minLength: 1, maxLength: 25 }), async (steps) => {
        const d = await mkdtemp(join(tmpdir(), 'strand-proj-prop-'));
        let l = await openLog({ path: d, durability: 'buffered' });
        const expected = new Map<string, number>();
        try {
          let runner = new ProjectionRunner(l, counter(), { batchSize: 3, concurrency: 3 });
          await runner.start();
          for (const [s, n, restart] of steps) {
            await l.append(`acc/${s}`, Array.from({ length: n }, () => ({ type: 'T', data: null })));
            expected.set(`acc/${s}`, (expected.get(`acc/${s}`) ?? 0) + n);
            if (restart) {
              await runner.stop();
              await l.close();
              l = await openLog({ path: d, durability: 'buffered' });
              runner = new ProjectionRunner(l, counter(), { batchSize: 3, concurrency: 3 });
              await runner.start();
            }
          }
          await runner.waitFor(l.position);
          for (const [s, n] of expected) expect(((await runner.view().get('streams', s)) as { n: number }).n).toBe(n);
          await runner.stop();
        } finally {
          await l.close();
          await rm(d, { recursive: true, force: true });
        }
      }),
      { numRuns: 25 },
    );
  });

  it('parks a failing stream while every other stream keeps flowing, then retries or skips it', async () => {
    let broken = true;
    const p = defineProjection({
      name: 'fragile',
      patterns: ['acc/>'],
      handlers: {
        T: (e, tx) => {
          if (e.stream === 'acc/bad' && broken) throw new Error('boom');
          return tx.update<number>('n', e.stream, (d) => (d ?? 0) + 1);
        },
      },
    });
    const runner = new ProjectionRunner(log, p, { attempts: 2, backoffMs: 1 });
    await runner.start();
    await log.append('acc/bad', [{ type: 'T', data: 1 }]);
    await log.append('acc/good', [{ type: 'T', data: 1 }]);
    await log.append('acc/bad', [{ type: 'T', data: 2 }]);
    const last = await log.append('acc/good', [{ type: 'T', data: 2 }]);
    await runner.waitFor(last.position);
    expect(await runner.view().get('n', 'acc/good')).toBe(2);
    expect(runner.parked().map((x) => [x.stream, x.version, x.error, x.attempts])).toEqual([['acc/bad', 1, 'boom', 2]]);
    const waited = await runner.waitFor(last.position, { stream: 'acc/bad' }).catch((e: unknown) => e);
    expect(isStrandError(waited, 'STRAND_PROJECTION_PARKED')).toBe(true);
    expect(await runner.retry('acc/bad')).toBe(false);
    broken = false;
    expect(await runner.retry('acc/bad')).toBe(true);
    expect(await runner.view().get('n', 'acc/bad')).toBe(2);
    expect(runner.parked()).toEqual([]);
    await runner.stop();
  });

  it('skips the failed event of a parked stream on request', async () => {
    const p = defineProjection({
      name: 'skipper',
      patterns: ['acc/>'],
      handlers: {
        T: (e, tx) => {
          if (e.data === 'poison') throw new Error('poison');
          return tx.update<number>('n', e.stream, (d) => (d ?? 0) + 1);
        },
      },
    });
    const runner = new ProjectionRunner(log, p, { attempts: 1 });
    await runner.start();
    const r = await log.append('acc/s', [{ type: 'T', data: 'ok' }, { type: 'T', data: 'poison' }, { type: 'T', data: 'ok' }]);
    await runner.waitFor(r.position);
    expect(runner.parked()).toHaveLength(1);
    expect(await runner.skip('acc/s')).toBe(true);
    expect(await runner.view().get('n', 'acc/s')).toBe(2);
    await runner.stop();
  });

  it('never lets a slow stream hold up the others (no head-of-line blocking)', async () => {
    const g = gate();
    const p = defineProjection({
      name: 'slow',
      patterns: ['acc/>'],
      handlers: { T: async (e) => (e.stream === 'acc/slow' ? g.p : undefined) },
    });
    const runner = new ProjectionRunner(log, p, { concurrency: 2 });
    await runner.start();
    const seen = firstValueFrom(runner.processed$.pipe(take(40), toArray()));
    await log.append('acc/slow', [{ type: 'T', data: 0 }]);
    for (let i = 0; i < 40; i++) await log.append(`acc/fast-${i % 8}`, [{ type: 'T', data: i }]);
    // All 40 fast events are applied and committed while the slow one is still stuck.
    const done = await seen;
    expect(done.every((e: RecordedEvent) => e.stream !== 'acc/slow')).toBe(true);
    const status = await runner.status();
    expect(status.position).toBe(0);
    expect(status.lagEvents).toBe(41);
    const timeout = await runner.waitFor(log.position, { timeoutMs: 20 }).catch((e: unknown) => e);
    expect(isStrandError(timeout, 'STRAND_PROJECTION_TIMEOUT')).toBe(true);
    expect(String((timeout as Error).message)).toContain('slow');
    g.open();
    await runner.waitFor(log.position);
    await runner.stop();
  });

  it('serves other streams at once while one stream has 100,000 pending events (per-stream dispatch)', async () => {
    const g = gate();
    let hotApplied = 0;
    const p = defineProjection({
      name: 'hot',
      patterns: ['acc/>'],
      handlers: {
        T: async (e, tx) => {
          if (e.stream === 'acc/hot') {
            await g.p;
            if (e.version !== hotApplied + 1) throw new Error(`out of order on acc/hot: ${hotApplied} then ${e.version}`);
            hotApplied++;
            return;
          }
          await tx.update<{ last: number }>('v', e.stream, (d) => {
            if ((d?.last ?? 0) + 1 !== e.version) throw new Error(`out of order on ${e.stream}: ${d?.last} then ${e.version}`);
            return { last: e.version };
          });
        },
      },
    });
    // The window (maxInFlight) is far smaller than the hot stream's backlog: before per-stream
    // dispatch, the follower stopped at the window and the other streams waited for the hot one.
    const runner = new ProjectionRunner(log, p, { concurrency: 4, maxInFlight: 2000 });
    await runner.start();
    for (let i = 0; i < 10; i++) await log.append('acc/hot', Array.from({ length: 10_000 }, () => ({ type: 'T', data: null })));
    const seen = firstValueFrom(runner.processed$.pipe(take(40), toArray()));
    for (let i = 0; i < 40; i++) await log.append(`acc/fast-${i % 8}`, [{ type: 'T', data: i }]);
    const done = await seen;
    expect(done.map((e: RecordedEvent) => e.stream).filter((s) => s === 'acc/hot')).toEqual([]);
    expect(hotApplied).toBe(0);
    for (let i = 0; i < 8; i++) expect(await runner.view().get('v', `acc/fast-${i}`)).toEqual({ last: 5 });
    g.open();
    await runner.waitFor(log.position, { timeoutMs: 60_000 });
    expect(hotApplied).toBe(100_000);
    expect(runner.parked()).toEqual([]);
    await runner.stop();
  });

  it('keeps exactly-once and order when streams overflow to the store across restarts (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 40 }), fc.boolean()), { minLength: 1, maxLength: 12 }), async (steps) => {
        const d = await mkdtemp(join(tmpdir(), 'strand-proj-over-'));
        let l = await openLog({ path: d, durability: 'buffered' });
        const expected = new Map<string, number>();
        // maxInFlight 16: each stream buffers one event and reads the rest back from the store.
        const options = { batchSize: 5, concurrency: 2, maxInFlight: 16 };
        try {
          let runner = new ProjectionRunner(l, counter(), options);
          await runner.start();
          for (const [s, n, restart] of steps) {
            await l.append(`acc/${s}`, Array.from({ length: n }, () => ({ type: 'T', data: null })));
            expected.set(`acc/${s}`, (expected.get(`acc/${s}`) ?? 0) + n);
            if (restart) {
              await runner.stop();
              await l.close();
              l = await openLog({ path: d, durability: 'buffered' });
              runner = new ProjectionRunner(l, counter(), options);
              await runner.start();
            }
          }
          await runner.waitFor(l.position);
          for (const [s, n] of expected) expect(await runner.view().get('streams', s)).toEqual({ n, last: n });
          expect(runner.parked()).toEqual([]);
          await runner.stop();
        } finally {
          await l.close();
          await rm(d, { recursive: true, force: true });
        }
      }),
      { numRuns: 15 },
    );
  });

  it('rebuilds blue/green: the old model serves until the new one has caught up', async () => {
    const runner = new ProjectionRunner(log, counter());
    await runner.start();
    for (let i = 0; i < 30; i++) await log.append(`acc/${i % 3}`, [{ type: 'T', data: i }]);
    await runner.waitFor(log.position);
    const progress: number[] = [];
    const rebuilt = runner.rebuild((p) => progress.push(p.position));
    expect(await runner.view().get('streams', 'acc/0')).toEqual({ n: 10, last: 10 });
    await rebuilt;
    expect((await runner.status()).generation).toBe(1);
    expect(progress.at(-1)).toBe(log.position);
    expect(await runner.view().get('streams', 'acc/0')).toEqual({ n: 10, last: 10 });
    await log.append('acc/0', [{ type: 'T', data: 0 }]);
    await runner.waitFor(log.position);
    expect(await runner.view().get('streams', 'acc/0')).toEqual({ n: 11, last: 11 });
    await runner.stop();
    // The generation survives a restart.
    const again = new ProjectionRunner(log, counter());
    await again.start();
    expect((await again.status()).generation).toBe(1);
    await again.stop();
  });

  it('runs inline projections inside the commit: updated on success, nothing written on failure', async () => {
    const p = defineProjection({
      name: 'inline',
      patterns: ['acc/>'],
      handlers: {
        T: (e, tx) => tx.update<number>('n', e.stream, (d) => (d ?? 0) + 1),
        Bad: () => {
          throw new Error('refused by the read model');
        },
      },
    });
    const inline = attachInline(log, p);
    await Promise.all([log.append('acc/a', [{ type: 'T', data: 1 }]), log.append('acc/a', [{ type: 'T', data: 2 }])]);
    expect(await inline.view().get('n', 'acc/a')).toBe(2);
    await expect(log.append('acc/a', [{ type: 'Bad', data: 1 }])).rejects.toThrow(/refused/);
    expect((await log.streamInfo('acc/a'))?.version).toBe(2);
    inline.detach();
  });

  it('adds and removes patterns at run time', async () => {
    const sub = new DynamicSubscription(log);
    await log.append('a/1', [{ type: 'T', data: 'old' }]);
    const got: string[] = [];
    sub.events$.subscribe((e) => got.push(`${e.pattern}:${e.stream}:${String(e.data)}`));
    sub.add('a/>', { from: 1 });
    sub.add('b/>');
    await log.append('b/1', [{ type: 'T', data: 'x' }]);
    await log.append('a/2', [{ type: 'T', data: 'y' }]);
    await log.waitForPosition(3);
    await new Promise<void>((resolve) => {
      const check = () => (got.length >= 3 ? resolve() : setImmediate(check));
      check();
    });
    expect(sub.remove('a/>')).toBe(true);
    await log.append('a/3', [{ type: 'T', data: 'z' }]);
    const last = await log.append('b/2', [{ type: 'T', data: 'w' }]);
    await new Promise<void>((resolve) => {
      const check = () => (got.some((g) => g.endsWith(':w')) ? resolve() : setImmediate(check));
      check();
    });
    expect(got.sort()).toEqual(['a/>:a/1:old', 'a/>:a/2:y', 'b/>:b/1:x', 'b/>:b/2:w'].sort());
    expect(last.position).toBe(5);
    sub.close();
  });

  it('validates its inputs', () => {
    expect(() => defineProjection({ name: 'bad name', patterns: ['a'], handlers: {} })).toThrow(/name/);
    expect(() => defineProjection({ name: 'x', patterns: [], handlers: {} })).toThrow(/pattern/);
    expect(() => defineProjection({ name: 'x', patterns: ['a/>/b'], handlers: {} })).toThrow(/pattern/);
    expect(() => new ProjectionRunner(log, counter(), { concurrency: 0 })).toThrow(/concurrency/);
  });
});
