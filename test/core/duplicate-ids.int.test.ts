import { type EventLog, openLog } from '@strand/core';
import { collect, errorCode } from '@strand/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// Issue 21 item 15: an event id the caller gives is unique in its stream's retained history. A
// retry of the very same append (same ids, same expected version, at the same place) is
// idempotent; any other append reusing a committed id is STRAND_DUPLICATE_EVENT_ID, nothing written.

let log: EventLog;
beforeEach(async () => {
  log = await openLog({ memory: true });
});
afterEach(() => log.close());

const ev = (id: string, n = 1) => ({ id, type: 'Placed', data: { n } });

/**
 * Runs the appends `start` makes as one group commit: while a group is in flight, the appends
 * that arrive wait and go out together as the next group (0002). Without the append kept in
 * flight here, they may commit as separate groups.
 */
async function inOneGroup<T>(start: () => Promise<T>[]): Promise<T[]> {
  const busy = log.append('group/busy', [ev('b')]);
  const out = await Promise.all(start());
  await busy;
  return out;
}

describe('duplicate event ids (issue 21 item 15)', () => {
  it('refuses an id already committed in the stream, whatever the expected version', async () => {
    await log.append('good/a', [ev('g1')]);
    await log.append('good/a', [ev('g2')]);
    const before = log.position;
    for (const expectedVersion of ['any', 'stream_exists', 2] as const) {
      expect(await errorCode(log.append('good/a', [ev('g1')], { expectedVersion })), String(expectedVersion)).toBe('STRAND_DUPLICATE_EVENT_ID');
    }
    expect(await errorCode(log.append('good/a', [ev('new'), ev('g2')]))).toBe('STRAND_DUPLICATE_EVENT_ID');
    expect(await errorCode(log.appendMulti([{ stream: 'good/b', events: [ev('b1')] }, { stream: 'good/a', events: [ev('g1')] }]))).toBe('STRAND_DUPLICATE_EVENT_ID');
    expect(log.position).toBe(before);
    // Ids are per stream: another stream may use g1.
    expect((await log.append('good/c', [ev('g1')])).version).toBe(1);
  });

  it('still recognises a retry of the very same append, also when copies race', async () => {
    const first = await log.append('retry/a', [ev('r1'), ev('r2')], { expectedVersion: 'no_stream' });
    const again = await log.append('retry/a', [ev('r1'), ev('r2')], { expectedVersion: 'no_stream' });
    expect([again.idempotent, again.position]).toEqual([true, first.position]);
    const copies = await Promise.all(Array.from({ length: 5 }, () => log.append('retry/b', [ev('x')]).then((r) => r.idempotent)));
    expect(copies.filter((idempotent) => !idempotent)).toHaveLength(1);
    expect((await log.streamInfo('retry/b'))?.version).toBe(1);
  });

  it('refuses an id that an append of the same group commit just took', async () => {
    // The second reuses d1 without being a retry of the first (its events differ), so only the
    // ids the group has taken so far can catch it.
    const codes = await inOneGroup(() => [errorCode(log.append('group/a', [ev('d1')])), errorCode(log.append('group/a', [ev('other'), ev('d1')]))]);
    expect(codes).toEqual(['ok', 'STRAND_DUPLICATE_EVENT_ID']);
    expect((await collect(log.readStream('group/a'))).map((e) => e.id)).toEqual(['d1']);
  });

  it('recognises a retry of the second of two appends to one stream in the same group commit', async () => {
    // The retry finds r2 among the events the group has pending.
    const results = await inOneGroup(() => [
      log.append('group/r', [ev('r1')], { expectedVersion: 'no_stream' }),
      log.append('group/r', [ev('r2')], { expectedVersion: 1 }),
      log.append('group/r', [ev('r2')], { expectedVersion: 1 }),
    ]);
    expect(results.map((r) => [r.version, r.idempotent])).toEqual([
      [1, false],
      [2, false],
      [2, true],
    ]);
    expect(results[2]!.position).toBe(results[1]!.position);
    // Each caller's result holds its own events only.
    expect(results.map((r) => r.events.map((e) => e.id))).toEqual([['r1'], ['r2'], ['r2']]);
  });

  it('frees an id whose event was truncated away (retained history only)', async () => {
    await log.append('trunc/a', [ev('t1'), ev('t2')]);
    await log.truncateBefore('trunc/a', 2);
    expect((await log.append('trunc/a', [ev('t1')])).version).toBe(3);
    expect(await errorCode(log.append('trunc/a', [ev('t2')]))).toBe('STRAND_DUPLICATE_EVENT_ID');
  });
});
