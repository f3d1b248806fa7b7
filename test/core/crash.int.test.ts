import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openLog, type RecordedEvent } from '@strand/core';
import { collect } from '@strand/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { runUntilAcked } from '../support/child.js';

// SIGKILL a durable writer at random moments; every acknowledged append must survive, and
// nothing half-written may be visible. Rounds: STRAND_CRASH_ROUNDS (default 5).
const rounds = Number(process.env.STRAND_CRASH_ROUNDS ?? 5);
const writer = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

interface Ack {
  append: string;
  parts: Array<{ stream: string; version: number; position: number; count: number }>;
}

describe('crash safety under SIGKILL (real child process, real LevelDB)', () => {
  it(`keeps every acknowledged append and nothing half-written, over ${rounds} kills`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strand-crash-'));
    dirs.push(dir);
    const acked: Ack[] = [];
    const seed = Number(process.env.STRAND_CRASH_SEED ?? Date.now() % 1_000_000);
    for (let round = 0; round < rounds; round++) {
      const killAfter = 20 + ((seed * (round + 7)) % 400);
      acked.push(...(await runUntilAcked<Ack>(writer, [dir, String(seed + round)], killAfter)));

      // Reopening needs no repair, and the log checks out.
      const log = await openLog({ path: dir });
      try {
        const all = await collect(log.readAll());
        const context = `seed ${seed}, round ${round}, kill after ${killAfter} acks`;
        expect(all.map((e) => e.position), `gapless global order (${context})`).toEqual(Array.from({ length: log.position }, (_, i) => i + 1));

        const byStream = new Map<string, RecordedEvent[]>();
        for (const e of all) byStream.set(e.stream, [...(byStream.get(e.stream) ?? []), e]);
        for (const [stream, events] of byStream) {
          expect(events.map((e) => e.version), `contiguous versions of ${stream} (${context})`).toEqual(events.map((_, i) => i + 1));
          expect((await log.streamInfo(stream))?.version, `head of ${stream}`).toBe(events.length);
          const read = await collect(log.readStream(stream));
          expect(read.map((e) => e.position), `stream index of ${stream} matches the global order`).toEqual(events.map((e) => e.position));
        }

        // All or nothing: every append's events are all present (their count is in the metadata).
        const perAppend = new Map<string, number>();
        for (const e of all) {
          const m = e.metadata as { append: string; total: number };
          perAppend.set(m.append, (perAppend.get(m.append) ?? 0) + 1);
        }
        for (const e of all) {
          const m = e.metadata as { append: string; total: number };
          expect(perAppend.get(m.append), `append ${m.append} complete (${context})`).toBe(m.total);
        }

        // Every acknowledged append is there, at the version and position it was acknowledged with.
        for (const ack of acked) {
          for (const part of ack.parts) {
            const got = await collect(log.readStream(part.stream, { from: part.version - part.count + 1, limit: part.count }));
            expect(got.map((e) => (e.metadata as { append: string }).append), `ack ${ack.append} on ${part.stream} (${context})`).toEqual(Array(part.count).fill(ack.append));
            expect(got.at(-1)?.position).toBe(part.position);
          }
        }
        // And the log accepts writes again.
        await log.append('crash/after', [{ type: 'Reopened', data: round, metadata: { append: `reopen-${round}`, total: 1 } }]);
        acked.push({ append: `reopen-${round}`, parts: [{ stream: 'crash/after', version: round + 1, position: log.position, count: 1 }] });
      } finally {
        await log.close();
      }
    }
    expect(acked.length).toBeGreaterThan(rounds * 20);
  });
});
