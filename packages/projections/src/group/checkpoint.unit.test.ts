import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CheckpointEntry, CheckpointChanges } from './checkpoint.js';

// CheckpointChanges against a model: the durable checkpoint is what the successful plans wrote,
// failed plans write nothing, and the state machine's current entries are what should be there.
type Op = { kind: 'set'; stream: string; acked: number } | { kind: 'retire'; stream: string } | { kind: 'write'; ok: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), stream: fc.constantFrom('a', 'b', 'c', 'd'), acked: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ kind: fc.constant('retire' as const), stream: fc.constantFrom('a', 'b', 'c', 'd') }),
  fc.record({ kind: fc.constant('write' as const), ok: fc.boolean() }),
);

describe('CheckpointChanges (what the next checkpoint write holds)', () => {
  it('after every successful write the durable entries are the current ones, whatever failed before; deletes only what may be stored', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ stream: fc.constantFrom('a', 'b'), acked: fc.integer({ min: 0, max: 9 }) }), { maxLength: 2 }), fc.array(op, { minLength: 10, maxLength: 80, size: 'max' }), (restored, ops) => {
        const changes = new CheckpointChanges();
        const current = new Map<string, CheckpointEntry>();
        const durable = new Map<string, CheckpointEntry>();
        for (const r of restored) {
          current.set(r.stream, { acked: r.acked });
          durable.set(r.stream, { acked: r.acked });
          changes.restored(r.stream);
        }
        // Streams any write (applied or not) may have put, or restored: a delete of anything else is a wasted write.
        const mayBeStored = new Set(current.keys());
        let watermark = 0;
        for (const o of ops) {
          if (o.kind === 'set') {
            current.set(o.stream, { acked: o.acked });
            changes.changed(o.stream);
          } else if (o.kind === 'retire') {
            current.delete(o.stream);
            changes.changed(o.stream);
          } else {
            watermark++;
            const plan = changes.plan(watermark, (s) => current.get(s));
            expect(plan.watermark).toBe(watermark);
            for (const s of plan.dels) expect(mayBeStored.has(s)).toBe(true);
            for (const [s] of plan.puts) mayBeStored.add(s);
            if (!o.ok) {
              changes.failed(plan);
              continue;
            }
            for (const [s, e] of plan.puts) durable.set(s, e);
            for (const s of plan.dels) durable.delete(s);
            expect(changes.count).toBe(0);
            expect(new Map([...durable].sort())).toEqual(new Map([...current].sort()));
          }
        }
      }),
    );
  });

  it('never stores a stream that came and went between two writes', () => {
    const changes = new CheckpointChanges();
    changes.changed('s');
    const plan = changes.plan(1, () => undefined);
    expect(plan).toEqual({ watermark: 1, puts: [], dels: [] });
  });
});
