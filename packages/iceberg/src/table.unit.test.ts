import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serializeMetadata, type Snapshot, type TableMetadata } from './table.js';

const snapshot = (i: number, summary: Record<string, string>): Snapshot => ({
  'snapshot-id': 1_000_000 + i,
  ...(i > 0 ? { 'parent-snapshot-id': 1_000_000 + i - 1 } : {}),
  'sequence-number': i + 1,
  'timestamp-ms': 1_700_000_000_000 + i,
  'manifest-list': `file:///t/metadata/snap-${i}.avro`,
  summary: { operation: 'append', ...summary },
  'schema-id': 0,
});

const base: TableMetadata = {
  'format-version': 2,
  'table-uuid': '00000000-0000-4000-8000-000000000000',
  location: 'file:///t',
  'last-sequence-number': 0,
  'last-updated-ms': 0,
  'last-column-id': 7,
  schemas: [{ type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'stream', required: true, type: 'string' }] }],
  'current-schema-id': 0,
  'partition-specs': [{ 'spec-id': 0, fields: [] }],
  'default-spec-id': 0,
  'last-partition-id': 999,
  properties: { 'x "quoted"': 'ü\n' },
  snapshots: [],
  'snapshot-log': [],
  'metadata-log': [],
  'sort-orders': [{ 'order-id': 0, fields: [] }],
  'default-sort-order-id': 0,
  refs: {},
};

describe('serializeMetadata', () => {
  it('writes exactly what JSON.stringify writes, whatever commits, expiries and rewrites came before (its bytes are reused across them)', () => {
    type Step = { kind: 'append'; note: string } | { kind: 'expire'; keep: number } | { kind: 'copy' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), note: fc.string({ maxLength: 8 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), keep: fc.integer({ min: 0, max: 5 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('copy' as const) }) },
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        let m: TableMetadata = { ...base };
        let n = 0;
        for (const s of steps) {
          if (s.kind === 'append') {
            const snap = snapshot(n++, { note: s.note });
            m = { ...m, 'current-snapshot-id': snap['snapshot-id'], snapshots: [...m.snapshots, snap], 'snapshot-log': [...m['snapshot-log'], { 'snapshot-id': snap['snapshot-id'], 'timestamp-ms': snap['timestamp-ms'] }] };
          } else if (s.kind === 'expire') {
            m = { ...m, snapshots: m.snapshots.slice(-s.keep || m.snapshots.length), 'snapshot-log': m['snapshot-log'].slice(-s.keep || m['snapshot-log'].length) };
          } else {
            // A metadata read back from its file: equal content, new objects.
            m = JSON.parse(JSON.stringify(m)) as TableMetadata;
          }
          expect(serializeMetadata(m).toString('utf8')).toBe(JSON.stringify(m));
        }
      }),
    );
  });

  it('does not reuse an array as a prefix when the next one differs before its end', () => {
    const a = snapshot(0, {});
    const b = snapshot(1, {});
    const c = snapshot(2, {});
    const first = { ...base, snapshots: [a, b] };
    serializeMetadata(first);
    // Same last-but-one element (b), another element before it.
    const other = { ...base, snapshots: [c, b, a] };
    expect(serializeMetadata(other).toString('utf8')).toBe(JSON.stringify(other));
  });
});
