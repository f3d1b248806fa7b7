import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Lane, type LaneEvent, parkRecord } from './lanes.js';

interface Ev extends LaneEvent {
  readonly wanted: boolean;
}

// One stream's events, interleaved with other streams' (positions jump), some not wanted by the
// worker (a projection with no handler for their type).
const streamOf = fc.array(fc.record({ gap: fc.integer({ min: 1, max: 5 }), wanted: fc.boolean() }), { minLength: 0, maxLength: 60, size: 'max' }).map((xs) => {
  let position = 0;
  return xs.map((x, i): Ev => {
    position += x.gap;
    return { stream: 's', version: i + 1, position, wanted: x.wanted };
  });
});

describe('Lane (per-stream ordered dispatch shared by the runner and groups)', () => {
  it('hands every wanted event to the worker once, in order, whatever the cap, the read sizes and the interleaving of feeder, worker and reads', () => {
    fc.assert(
      fc.property(
        streamOf,
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.constantFrom('feed', 'work', 'read', 'settle'), { minLength: 20, maxLength: 400, size: 'max' }),
        fc.boolean(),
        (events, cap, limit, schedule, readerPasses) => {
          const lane = new Lane<Ev>('s');
          let fed = 0;
          const done: number[] = [];
          let inFlightRead: { from: number; limit: number; to: number } | undefined;
          // The reader sees the whole stream (committed), from `from`; it may stop at `to` or pass it.
          const read = (r: { from: number; limit: number; to: number }) => events.filter((e) => e.version >= r.from && (readerPasses || e.position <= r.to)).slice(0, r.limit);
          const step = (op: string) => {
            if (op === 'feed' && fed < events.length) {
              const e = events[fed++]!;
              // The feeder only hands over what the worker wants; the rest is passed over (engine.ts).
              if (e.wanted) lane.offer(e, cap);
            } else if (op === 'work' && lane.size > 0) {
              done.push(lane.first()!.version);
              lane.drop(1);
            } else if (op === 'read' && inFlightRead === undefined) {
              inFlightRead = lane.readRequest(limit);
            } else if (op === 'settle' && inFlightRead !== undefined) {
              lane.absorb(read(inFlightRead), (e) => e.wanted);
              inFlightRead = undefined;
            }
            expect(lane.size).toBeLessThanOrEqual(Math.max(cap, limit));
          };
          for (const op of schedule) step(op);
          // Drain: feed the rest, then work and read until nothing is left.
          while (fed < events.length) step('feed');
          for (let guard = 0; guard < 10_000; guard++) {
            if (inFlightRead !== undefined) step('settle');
            else if (lane.size > 0) step('work');
            else if (lane.overflow !== undefined) step('read');
            else break;
          }
          expect(lane.size).toBe(0);
          expect(lane.overflow).toBeUndefined();
          expect(done).toEqual(events.filter((e) => e.wanted).map((e) => e.version));
        },
      ),
    );
  });

  it('with contiguous reads, stops buffering at a gap in versions and reads the rest again', () => {
    const lane = new Lane<Ev>('s');
    const e = (version: number, position: number): Ev => ({ stream: 's', version, position, wanted: true });
    lane.offer(e(1, 1), 1);
    lane.offer(e(2, 2), 1);
    lane.offer(e(5, 9), 1);
    lane.drop(1);
    const r = lane.readRequest(10)!;
    expect(r).toMatchObject({ from: 2, to: 9 });
    lane.absorb([e(2, 2), e(4, 7), e(5, 9)], undefined, true);
    expect(lane.peek(10).map((x) => x.version)).toEqual([2]);
    expect(lane.overflow).toMatchObject({ nextVersion: 3 });
    lane.drop(1);
    lane.readRequest(10);
    lane.absorb([e(4, 7), e(5, 9)], undefined, true);
    expect(lane.peek(10).map((x) => x.version)).toEqual([4, 5]);
    expect(lane.overflow).toBeUndefined();
  });

  it('backs off doubling up to the cap (or by the delay asked), then parks after the last attempt', () => {
    const lane = new Lane<Ev>('s');
    const policy = { maxAttempts: 5, backoffMs: 10, maxBackoffMs: 25 };
    expect(lane.failed('a', 1000, policy)).toBe(10);
    expect(lane.retryAt).toBe(1010);
    expect(lane.failed('b', 1000, policy)).toBe(20);
    expect(lane.failed('c', 1000, policy)).toBe(25);
    expect(lane.failed('d', 1000, policy, 3)).toBe(3);
    expect(lane.failed('e', 1000, policy)).toBe('park');
    expect(lane.attempts).toBe(5);
    expect(parkRecord('s', { version: 3, position: 7 }, lane.lastError, lane.attempts, 1234)).toEqual({ stream: 's', version: 3, position: 7, error: 'e', attempts: 5, parkedAt: 1234 });
    lane.succeeded();
    expect(lane.failed('again', 0, policy)).toBe(10);
    expect(parkRecord('s', { version: 1, position: 1 }, Object.assign(new Error('gone'), { code: 'STRAND_STREAM_TRUNCATED' }), 1, 0)).toMatchObject({ error: 'gone', code: 'STRAND_STREAM_TRUNCATED' });
  });
});
