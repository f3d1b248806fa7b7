import { fileURLToPath } from 'node:url';
import { EventLog, type RecordedEvent } from '@strand/core';
import { collect } from '@strand/core/testing';
import { S3Level, s3LogDefaults } from '@strand/store-s3';
import { ensureRgw, rgwStore, uniquePrefix } from '@strand/store-s3/testing';
import { describe, expect, it } from 'vitest';
import { runUntilAcked } from '../support/child.js';

const CHILD = fileURLToPath(new URL('./reopen-crash-child.ts', import.meta.url));

interface Ack {
  append: string;
  stream: string;
  version: number;
  position: number;
  count: number;
}

/**
 * The writer's configurations: the defaults (everything since the last memtable flush is pending
 * in the WAL), and a replay bound so small that memtables were flushed to L0 before the kill, so
 * the reopen reads tables, WAL segments and single WAL objects after them.
 */
const configs = [
  { name: 'defaults', options: {}, killAfter: 1200 },
  { name: 'memtables flushed every 24 WAL objects, segments of 4', options: { walReplayMaxObjects: 24, walSegmentObjects: 4 }, killAfter: 1200 },
];

describe('a writer reopened after a SIGKILL on a real S3 server (Ceph RGW)', () => {
  it.each(configs)('replays every pending acknowledged event, in order, with nothing half-written: $name', async ({ options, killAfter }) => {
    const env = await ensureRgw();
    const prefix = uniquePrefix('reopen-crash');
    const seed = Number(process.env.STRAND_CRASH_SEED ?? Date.now() % 1_000_000);
    const acked = await runUntilAcked<Ack>(CHILD, [JSON.stringify(env), prefix, String(seed), JSON.stringify(options)], killAfter);
    const level = new S3Level({ store: rgwStore(env), prefix, keyEncoding: 'view', valueEncoding: 'view', ...options } as never);
    const t0 = performance.now();
    const log = await EventLog.open({ ...s3LogDefaults, store: level, ownsStore: true });
    const reopenMs = performance.now() - t0;
    const context = `seed ${seed} (STRAND_CRASH_SEED), ${acked.length} acknowledged appends`;
    try {
      const stats = level.engineStats;
      console.log(`reopen after SIGKILL (${context}): ${Math.round(reopenMs)} ms, ${stats?.walReplayed} WAL objects replayed, requests ${JSON.stringify(level.requests)}`);
      // The kill left acknowledged events in WAL objects only (not in a table): the reopen replayed them.
      expect(stats?.walReplayed, context).toBeGreaterThan(0);
      const all = await collect(log.readAll());
      expect(all.map((e) => e.position), `gapless global order (${context})`).toEqual(Array.from({ length: log.position }, (_, i) => i + 1));
      const byStream = new Map<string, RecordedEvent[]>();
      for (const e of all) byStream.set(e.stream, [...(byStream.get(e.stream) ?? []), e]);
      for (const [stream, events] of byStream) {
        expect(events.map((e) => e.version), `contiguous versions of ${stream} (${context})`).toEqual(events.map((_, i) => i + 1));
        expect((await log.streamInfo(stream))?.version, `head of ${stream} (${context})`).toBe(events.length);
      }
      // All or nothing: every append present has all its events.
      const perAppend = new Map<string, number>();
      for (const e of all) {
        const m = e.metadata as { append: string };
        perAppend.set(m.append, (perAppend.get(m.append) ?? 0) + 1);
      }
      for (const e of all) {
        const m = e.metadata as { append: string; total: number };
        expect(perAppend.get(m.append), `append ${m.append} complete (${context})`).toBe(m.total);
      }
      // Every acknowledged append is there, at the version and position it was acknowledged with.
      const byPosition = new Map(all.map((e) => [e.position, e]));
      const lost = acked.filter((a) => {
        const last = byPosition.get(a.position);
        return last === undefined || last.stream !== a.stream || last.version !== a.version || (last.metadata as { append: string }).append !== a.append;
      });
      expect(lost.map((a) => a.append), `acknowledged appends missing after the reopen (${context})`).toEqual([]);
      expect(acked.length).toBeGreaterThanOrEqual(killAfter);
      // And the reopened writer takes appends again.
      const after = await log.append('crash/after', [{ type: 'Reopened', data: {} }]);
      expect(after.position).toBe(all.length + 1);
    } finally {
      await log.close();
    }
  }, 240_000);
});
